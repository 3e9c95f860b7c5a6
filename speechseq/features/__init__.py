"""Audio to log-mel features: `FrontendSpec` (the numbers a checkpoint stores), the torch `LogMel`
that training and evaluation run on the device, and its numpy twin (`numpy_logmel`) for the
torch-free runtimes. Both give the same frames, so features never drift apart between rooms.
"""

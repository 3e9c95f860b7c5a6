"""Audio to features: `FrontendSpec` (the numbers a checkpoint stores), the torch `LogMel` that
training and evaluation run on the device, and its numpy twin (`numpy_logmel`) for the torch-free
runtimes; both give the same frames, so features never drift apart between rooms. The speech
embedding (features=speech_embedding) is the other frontend: `embedding_spec` (EmbeddingSpec, the
model file), `embedding_mel` (its mel, numpy), `embedding_onnx` (onnxruntime) and
`speech_embedding` (torch, for training).
"""

"""Training-time augmentation on the device: speed and pitch perturbation, time shift, a room (an impulse
response, simulated with pyroomacoustics or recorded), background noise at a drawn SNR, gain, and
SpecAugment masks, in that order, drawn from one generator per epoch so a run is reproducible.
Uses the data room's noise bank. Nothing here runs at inference; evaluation may put its clips in
rooms with `rooms.reverberate`.
"""

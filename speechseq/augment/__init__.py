"""Training-time augmentation on the device: time shift, background noise at a drawn SNR, gain,
speed perturbation, and SpecAugment masks, in that order, drawn from one generator per epoch so
a run is reproducible. Uses the data room's noise bank; nothing here runs at inference.
"""

"""The classifiers: `RecurrentClassifier` (BiLSTM by default; LSTM, GRU and the plain tanh RNN as
baselines; mean or attention pooling), `ModelSpec` (its shape, stored in checkpoints), the numpy
re-implementation used by the torch-free runtime, and the carried-state stepping a unidirectional
model uses to stream frame by frame.
"""

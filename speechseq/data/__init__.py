"""Speech Commands on disk: layout discovery, splits, the waveform cache, batching."""

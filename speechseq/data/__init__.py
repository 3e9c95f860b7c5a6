"""Speech Commands on disk, the first room of the pipeline: finding a folder's layout (lists, hash rule,
the test-set archive), reading its splits and labels, the int16 waveform cache, the download, batching
and the background prefetch that feeds the training loop. Imports only the top-level modules.
"""


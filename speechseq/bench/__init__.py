"""`speechseq-bench` and the benchmark helpers: decode, log-mel, training and evaluation throughput,
compared with a per-clip baseline, written to bench.json. The top of the pipeline: it may import any
room, and no room imports it.
"""

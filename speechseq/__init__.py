"""speechseq: keyword spotting on Google Speech Commands with stacked (Bi)LSTMs."""

import os as _os

# An LSTM step on a CPU is thousands of tiny OpenMP regions. Spinning OpenMP threads collapse as
# soon as anything else uses the cores: 2 threads were up to 15x slower than 1 on a shared 2-core
# machine; passive waiting never collapsed (BENCHMARKS.md). libgomp reads this when torch loads it, so it is set
# here, before any speechseq module imports torch; an explicit OMP_WAIT_POLICY wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

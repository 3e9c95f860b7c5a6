"""speechseq: keyword spotting on Google Speech Commands with stacked (Bi)LSTMs.

For applications:

    from speechseq import Recognizer

    r = Recognizer.load()                      # the shipped model (or a .safetensors / .onnx path)
    r.classify_file("clip.wav").label          # what a clip says
    for detection in r.process(int16_frame):   # the words detected in the next frame of a stream
        print(detection.label, detection.score, detection.time_s)
    with r.listen(lambda d: print(d.label)):   # the microphone, in a background thread
        ...

The names below are imported on first use, so `import speechseq` stays light (no numpy, no torch).
"""

import os as _os
from typing import TYPE_CHECKING as _TYPE_CHECKING

# An LSTM step on a CPU is thousands of tiny OpenMP regions. Spinning OpenMP threads collapse as
# soon as anything else uses the cores: 2 threads were up to 15x slower than 1 on a shared 2-core
# machine; passive waiting never collapsed (BENCHMARKS.md). libgomp reads this when torch loads it, so it is set
# here, before any speechseq module imports torch; an explicit OMP_WAIT_POLICY wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first access, see __getattr__)
_EXPORTS = {
    "Recognizer": "speechseq.streaming.api",
    "KeywordDetection": "speechseq.streaming.api",
    "Classification": "speechseq.streaming.clips",
    "Listening": "speechseq.streaming.listening",
}
__all__ = ["Classification", "KeywordDetection", "Listening", "Recognizer", "__version__"]

if _TYPE_CHECKING:  # for type checkers and IDEs; never run
    from speechseq.streaming.api import KeywordDetection as KeywordDetection
    from speechseq.streaming.api import Recognizer as Recognizer
    from speechseq.streaming.clips import Classification as Classification
    from speechseq.streaming.listening import Listening as Listening


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'speechseq' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

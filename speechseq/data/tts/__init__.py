"""Synthetic speech from text-to-speech engines (espeak-ng, flite, piper), generated once and cached:
negatives for `_unknown_` (near-misses of the commands, general words, phrases, partial words) and
positives of a user's own word spoken from its spelling (docs/tts.md).

    from speechseq.data.tts import synthetic_negatives, synthetic_takes
"""

from speechseq.data.tts.corpus import synthetic_negatives
from speechseq.data.tts.engines import EngineMissingError
from speechseq.data.tts.takes import synthetic_takes, write_takes

__all__ = ["EngineMissingError", "synthetic_negatives", "synthetic_takes", "write_takes"]

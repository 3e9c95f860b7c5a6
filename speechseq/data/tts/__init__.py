"""Synthetic speech from text-to-speech engines (espeak-ng, flite, piper), generated once and cached:
negatives for `_unknown_` (near-misses of the commands, general words, phrases, partial words) and
positives of a user's own word spoken from its spelling (docs/tts.md).
"""

"""Which words sound like a command: espeak-ng's phonemes and the rule that keeps a word out of the negatives.

A word is never a negative (`_unknown_`) when a listener would hear a command in it:
- it is the command or sounds exactly like it (the same phonemes: write, rite and wright for right,
  know for no);
- it holds the command's phonemes whole, with nothing or a whole syllable (a vowel) on each side:
  stop|watch, up|stairs, down|town, go|ing, no|body, a|go (as "a go"), a|right (as "a right").
A word that adds or changes a sound inside the command's syllable is a different word to a listener
and stays a near-miss: n-o-se, s-no-w, c-up, go-t, stop-s. The rule reads American English phonemes
(`espeak-ng -v en-us -x`); it is what `scripts/build_tts_words.py` applied to the packaged word list,
and what the tests check every negative against.
"""

from __future__ import annotations

import re
import shutil
import subprocess

_MARKS = re.compile(r"[',;#\-]")  # stress, syllable and palatalisation marks: not sounds of their own
_VOWEL_STARTS = "aeiouAEIOUV@03"   # espeak-ng's English vowel mnemonics start with one of these


def normalise(mnemonics: str) -> tuple[str, ...]:
    """espeak-ng's `-x --sep=_` output of one word as a tuple of phonemes, marks and variants dropped."""
    phonemes = []
    for token in mnemonics.strip().split("_"):
        token = _MARKS.sub("", token)
        if len(token) > 1 and token.endswith("2"):  # t2, I2: variants of t, I
            token = token[:-1]
        if token:
            phonemes.append(token)
    return tuple(phonemes)


def espeak_phonemes(words: list[str], voice: str = "en-us") -> list[tuple[str, ...]]:
    """The phonemes of each word (one espeak-ng run for all); raises FileNotFoundError without espeak-ng."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    # one word a line, each ended by a full stop, so each comes back as a line of its own
    text = "".join(f"{w}.\n" for w in words)
    out = subprocess.run(["espeak-ng", "-q", "-v", voice, "-x", "--sep=_"], input=text, capture_output=True,
                         text=True, check=True).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    if len(lines) != len(words):
        raise RuntimeError(f"espeak-ng gave {len(lines)} phoneme lines for {len(words)} words")
    return [normalise(line) for line in lines]


def is_vowel(phoneme: str) -> bool:
    return phoneme[0] in _VOWEL_STARTS


def command_heard_in(word: tuple[str, ...], command: tuple[str, ...]) -> bool:
    """True when `word` sounds like `command` or holds it whole beside nothing or a whole syllable."""
    n = len(command)
    for i in range(len(word) - n + 1):
        if word[i:i + n] != command:
            continue
        before, after = word[:i], word[i + n:]
        if (not before or any(map(is_vowel, before))) and (not after or any(map(is_vowel, after))):
            return True
    return False


def phoneme_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Edit distance in phonemes (a near-miss is one phoneme away from its command)."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            above = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1]))
            diagonal = above
    return row[len(b)]


def words_holding(words: list[str], commands: list[str], voice: str = "en-us") -> set[str]:
    """The words of `words` in which a listener would hear one of `commands` (needs espeak-ng)."""
    phonemes = espeak_phonemes(list(words) + list(commands), voice)
    by_word, spoken = phonemes[:len(words)], phonemes[len(words):]
    return {w for w, p in zip(words, by_word) if any(command_heard_in(p, c) for c in spoken)}

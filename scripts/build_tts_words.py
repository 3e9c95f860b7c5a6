#!/usr/bin/env python
"""Make speechseq/data/tts/general_words.txt, the general vocabulary of the synthetic negatives.

    python scripts/build_tts_words.py [--source /usr/share/dict/american-english-small] [--words 10000]

Needs Debian's wamerican-small (SCOWL, size 35: the commoner words) and espeak-ng. Keeps
lower-case words of 3 to 9 letters, drops every word in which a listener would hear one of the ten
commands (speechseq.data.tts.phonemes: homophones, the command whole beside another syllable),
draws `--words` of the rest with seed 0 and writes them sorted, below SCOWL's licence notice.
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from speechseq.data.tts.phonemes import words_holding
from speechseq.labels import COMMANDS_10

OUT = Path(__file__).resolve().parents[1] / "speechseq" / "data" / "tts" / "general_words.txt"
NOTICE = """\
# General vocabulary of speechseq's synthetic negatives (scripts/build_tts_words.py), drawn from
# SCOWL's American English word list, size 35 (Debian package wamerican-small), with every word in
# which a command is heard left out. SCOWL's notice:
#
# Copyright 2000-2011 by Kevin Atkinson
#
# Permission to use, copy, modify, distribute and sell these word lists, the associated scripts,
# the output created from the scripts, and its documentation for any purpose is hereby granted
# without fee, provided that the above copyright notice appears in all copies and that both that
# copyright notice and this permission notice appear in supporting documentation. Kevin Atkinson
# makes no representations about the suitability of this array for any purpose. It is provided
# "as is" without express or implied warranty.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="/usr/share/dict/american-english-small")
    ap.add_argument("--words", type=int, default=10000)
    a = ap.parse_args()
    source = Path(a.source)
    if not source.is_file():
        print(f"build_tts_words: error: {source} is missing (apt-get install wamerican-small)", file=sys.stderr)
        return 2
    words = sorted({w for w in source.read_text(encoding="utf-8").split() if re.fullmatch(r"[a-z]{3,9}", w)})
    heard = words_holding(words, list(COMMANDS_10))
    kept = [w for w in words if w not in heard and w not in COMMANDS_10]
    chosen = sorted(np.random.default_rng(0).choice(kept, size=min(a.words, len(kept)), replace=False).tolist())
    OUT.write_text(NOTICE + "".join(f"{w}\n" for w in chosen), encoding="utf-8")
    print(f"{len(words)} words of 3-9 letters, {len(heard)} holding a command left out, "
          f"{len(chosen)} written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

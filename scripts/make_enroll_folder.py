#!/usr/bin/env python
"""Stand in for a user's recordings: N takes of each word from a Speech Commands split, linked into
a folder in the layout speechseq-record writes (for measuring experiment=enroll).

    python scripts/make_enroll_folder.py DATA_ROOT --words zero one two ... --takes 20 --out DIR

The takes come from the training split (speakers that the test split does not have), the first
N files of each word in name order, so the folder is the same on every machine. Files are
symbolic links: nothing is copied.
"""

import argparse
import sys
from pathlib import Path

from speechseq.data.layout import DatasetError, scan_dataset

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_root")
    ap.add_argument("--words", nargs="+", default=DIGITS)
    ap.add_argument("--takes", type=int, default=20)
    ap.add_argument("--split", default="train", choices=["train", "validation"])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        index = scan_dataset(a.data_root)
    except DatasetError as exc:
        print(f"make_enroll_folder: error: {exc}", file=sys.stderr)
        return 2
    out = Path(a.out)
    for word in a.words:
        clips = sorted(c.relpath for c in index.splits[a.split] if c.word == word)[:a.takes]
        if len(clips) < a.takes:
            print(f"make_enroll_folder: error: only {len(clips)} {a.split} clips of {word!r}", file=sys.stderr)
            return 2
        (out / word).mkdir(parents=True, exist_ok=True)
        for rel in clips:
            link = out / rel
            if not link.exists():
                link.symlink_to((index.root / rel).resolve())
    print(f"{len(a.words)} word(s) x {a.takes} takes linked into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

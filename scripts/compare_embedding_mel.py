#!/usr/bin/env python
"""How far speechseq's per-frame floor moves the speech embedding from openWakeWord's own mel graph.

openWakeWord's `melspectrogram.onnx` floors each value at the whole input's maximum - 80 dB;
speechseq (speechseq/features/embedding_mel.py) floors each frame at its own maximum - 80 dB. On
random clips of a folder this prints the share of mel values that differ and how close the
embeddings of the two stay (cosine similarity per embedding, averaged per clip).

    python scripts/compare_embedding_mel.py ../shared/data/speech_commands_mini [--clips 300] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from speechseq.audio import fix_length, read_audio
from speechseq.features.embedding_mel import mel_frames
from speechseq.features.embedding_onnx import OnnxEmbedder, ort_session
from speechseq.features.embedding_spec import installed_model_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(p for p in args.folder.glob("*/*.wav") if not p.parent.name.startswith("_"))
    rng = np.random.default_rng(args.seed)
    files = [files[i] for i in rng.choice(len(files), min(args.clips, len(files)), replace=False)]
    graph = ort_session(installed_model_path().with_name("melspectrogram.onnx"))
    embed = OnnxEmbedder()
    changed, cosines = [], []
    for path in files:
        wave = fix_length(read_audio(path, 16000), 16000).astype(np.float32)
        theirs = np.squeeze(graph.run(None, {"input": (wave * 32768)[None]})[0]) / 10 + 2  # openWakeWord's x/10 + 2
        ours = mel_frames(wave)
        changed.append(float(np.mean(np.abs(theirs - ours) > 1e-3)))
        a, b = embed.embed_mel(theirs), embed.embed_mel(ours)
        cosines.append(float(np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))))
    changed, cosines = np.array(changed), np.array(cosines)
    print(f"{len(files)} clips: {100 * changed.mean():.1f} % of mel values differ (> 1e-3), in "
          f"{int((changed > 0).sum())} clips; embedding cosine similarity mean {cosines.mean():.4f}, "
          f"lowest {cosines.min():.4f}")


if __name__ == "__main__":
    main()

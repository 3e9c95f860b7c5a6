"""The model card's account of its training data: named and counted, never a machine path.

`describe_training_data(DATA_ROOT, data_report)` counts the Speech Commands folder a model was
trained on (its clips, words and speakers, per split of its lists) for the "Training data" row of
MODEL_CARD.md. Torch-free, and independent of speechseq.data (deploy may not import it): a
speaker is a clip's file-name prefix before `_nohash_`, as the dataset names them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
NOISE_DIR = "_background_noise_"


def speaker_of(relpath: str) -> str:
    return Path(relpath).name.split("_nohash_")[0]


def count_folder(root: str | Path) -> dict:
    """Clips and speakers per split (train: every clip in no list) and the words, of a Speech Commands folder."""
    root = Path(root).expanduser()
    clips = sorted(f"{d.name}/{p.name}" for d in root.iterdir() if d.is_dir() and d.name != NOISE_DIR
                   and not d.name.startswith(".") for p in d.glob("*.wav"))
    listed = {split: {line.strip() for line in (root / name).read_text().splitlines() if line.strip()}
              if (root / name).is_file() else set() for split, name in LISTS.items()}
    per_split: dict[str, list[str]] = defaultdict(list)
    for clip in clips:
        split = next((s for s, names in listed.items() if clip in names), "train")
        per_split[split].append(clip)
    return {"clips": len(clips), "speakers": len({speaker_of(c) for c in clips}),
            "words": len({c.split("/")[0] for c in clips}),
            "splits": {s: {"clips": len(per_split[s]), "speakers": len({speaker_of(c) for c in per_split[s]})}
                       for s in ("train", "validation", "test")}}


def describe_training_data(data_root: str | Path, epoch_clips: str) -> str:
    """One table cell: the data's name (the folder's), what it is, and its counts (when the folder is here)."""
    name = Path(data_root).expanduser().resolve().name
    per_epoch = f"{epoch_clips} training clips per epoch (the words' clips, `_unknown_` and `_silence_` drawn)"
    if not Path(data_root).expanduser().is_dir():
        return f"`{name}`, clips of Google Speech Commands (v0.01 and v0.02 recordings); {per_epoch}"
    counts = count_folder(data_root)
    s = counts["splits"]
    return (f"`{name}`: {counts['clips']:,} clips (about a second each) of {counts['words']} words by "
            f"{counts['speakers']:,} speakers from Google Speech Commands (v0.01 and v0.02 recordings), split "
            f"by speaker: {s['train']['clips']:,} training clips ({s['train']['speakers']:,} speakers), "
            f"{s['validation']['clips']:,} validation ({s['validation']['speakers']:,}), {s['test']['clips']:,} "
            f"test ({s['test']['speakers']:,}); {per_epoch}")


def input_line(frontend: dict) -> str:
    """The card's Input row: the log-mel, or the speech embedding (features=speech_embedding)."""
    rate = frontend["sample_rate"]
    if frontend.get("kind") == "speech_embedding":
        return (f"1 s of {rate / 1000:g} kHz mono audio -> Google's speech_embedding ({frontend['model']}, frozen): "
                f"a 96-number embedding every 80 ms (3 frames)")
    frames = 1 + (rate - frontend["n_fft"]) // frontend["hop_length"]
    return (f"1 s of {rate / 1000:g} kHz mono audio -> {frontend['n_mels']} log-mel bands every "
            f"{1000 * frontend['hop_length'] / rate:g} ms ({frames} frames)")


def architecture_line(model: dict) -> str:
    """The card's Architecture row."""
    kind = ("bidirectional " if model["bidirectional"] else "") + model["cell"].upper()
    kind += f" ({model.get('nonlinearity', 'tanh')})" if model["cell"] == "rnn" else ""
    stack = model["frame_stack"]
    frames = f"{stack} frames stacked per step" if stack > 1 else "one frame per step"
    return (f"{model['num_layers']}-layer {kind}, hidden size {model['hidden_size']}, {model['pooling']} pooling, "
            f"{frames}; feature normalisation inside the model")


def epoch_clips(train: dict) -> str:
    """Clips drawn per epoch: words, other words, open-world negatives and silence."""
    keys = ("keyword", "unknown_drawn", "silence")
    if not all(k in train for k in keys):
        return "?"
    return f"{sum(train[k] for k in keys) + train.get('negative_drawn', 0):,}"

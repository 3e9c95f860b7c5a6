"""`speechseq-data download|verify root=DIR`: get Speech Commands and check what is there.
`speechseq-data tts out=DIR`: generate the synthetic negatives (speechseq.data.tts) into a cache ahead of time."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from omegaconf import DictConfig

from speechseq.cli import hydra_entry, run_guarded
from speechseq.data.layout import DatasetError, DatasetIndex, scan_dataset
from speechseq.labels import COMMANDS_10

VERSIONS = ("v0.01", "v0.02")
ACTIONS = ("download", "verify", "tts")


def dataset_folder(root: str | Path, version: str) -> Path:
    """Where torchaudio unpacks a version under `root`."""
    return Path(root).expanduser() / "SpeechCommands" / f"speech_commands_{version}"


def download(root: str | Path, version: str = "v0.02") -> Path:
    """Download and unpack through torchaudio (checksummed); returns the dataset folder."""
    if version not in VERSIONS:
        raise DatasetError(f"version={version!r}: choose one of {VERSIONS}")
    from torchaudio.datasets import SPEECHCOMMANDS

    Path(root).expanduser().mkdir(parents=True, exist_ok=True)
    try:
        SPEECHCOMMANDS(root=str(Path(root).expanduser()), url=f"speech_commands_{version}", download=True)
    except OSError as exc:
        raise DatasetError(f"download of Speech Commands {version} failed ({exc}); check the network, "
                           f"or download the archive by hand and unpack it into {dataset_folder(root, version)}") from None
    return dataset_folder(root, version)


def describe(index: DatasetIndex) -> str:
    counts = {name: len(clips) for name, clips in index.splits.items()}
    per_word = Counter(c.word for clips in index.splits.values() for c in clips)
    missing_commands = [w for w in COMMANDS_10 if w not in per_word]
    lines = [f"Speech Commands at {index.root} ({index.layout} layout)",
             f"  {len(per_word)} word folders, {sum(per_word.values())} clips: "
             + ", ".join(f"{k} {v}" for k, v in counts.items()),
             f"  background noise files: {len(index.noise_files)}",
             "  clips per word: " + ", ".join(f"{w} {n}" for w, n in sorted(per_word.items()))]
    if missing_commands:
        lines.append(f"  warning: the 10 commands lack {missing_commands}; use data.task=custom")
    return "\n".join(lines)


def run(cfg: DictConfig) -> None:
    if cfg.action not in ACTIONS:
        raise DatasetError(f"action={cfg.action!r}: choose download, verify or tts")
    if cfg.action == "tts":
        from speechseq.data.tts.corpus import build_negatives, describe_corpus

        print(describe_corpus(build_negatives(cfg.out, cfg.seed, cfg.clips, cfg.engines, progress=True)))
        return
    root = Path(cfg.root).expanduser()
    if cfg.action == "download":
        root = download(root, cfg.version)
    elif not any(root.glob("*/*.wav")) and dataset_folder(root, cfg.version).is_dir():
        root = dataset_folder(root, cfg.version)
    index = scan_dataset(root, key="root")
    print(describe(index))
    print(f"use it with: speechseq-train data.root={root}")


@hydra_entry("data_tool")
def _hydra_main(cfg: DictConfig) -> None:
    run_guarded("speechseq-data", lambda: run(cfg), debug=cfg.debug)


def main() -> None:
    # `speechseq-data download root=DIR` reads better than `action=download`; translate it.
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if verb in ACTIONS:
        sys.argv[1] = f"action={verb}"
    elif verb and "=" not in verb and not verb.startswith(("-", "~", "+")):
        import difflib

        close = difflib.get_close_matches(verb, ACTIONS, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        print(f"speechseq-data: error: unknown action {verb!r}; {hint}(speechseq-data download|verify root=DIR)",
              file=sys.stderr)
        sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()

"""The open world in training (`openworld.*`): real speech as `_unknown_`, real noise as `_silence_`.

A folder laid out as ../shared/data/real_world is split by speaker, word, sound and room
(speechseq.data.real_world). Its train-split speech becomes 1 s windows (speechseq.data.windows)
added to the training split's `_unknown_` draws, its validation-split speech to the validation
split's (so the best epoch is chosen with them), and its train-split noise joins the dataset's
background noise (silence clips, and noise under the words). Recordings whose transcript says a
keyword are left out; recordings without a transcript are read sentences that may say one, so the
windows a reference model takes for a keyword with high confidence are left out too, and counted.
Windows are cached under data.cache_dir, keyed by every file and setting.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from speechseq.data.real_world import RealFile, RealWorldIndex, scan_real_world, says_a_word
from speechseq.data.windows import WindowSet, speech_windows
from speechseq.fsutil import atomic_path
from speechseq.labels import SILENCE, UNKNOWN, LabelSet

log = logging.getLogger(__name__)
WINDOWS_FORMAT = 1   # in the cache key: bump when what is stored changes
WORD_FOLDERS = ("mycroft_precise",)  # collections whose folder names are what every take says


def what_is_said(f: RealFile) -> str | None:
    """The transcript, or the word of a word folder; None for speech nobody transcribed."""
    if f.transcript is not None:
        return f.transcript
    if any(m in f.source for m in WORD_FOLDERS):
        return f.source.rsplit("/", 1)[-1].replace("-", " ")
    return None


def negative_files(rw: RealWorldIndex, split: str, sources: list[str] | None,
                   keywords: tuple[str, ...]) -> tuple[list[RealFile], list[RealFile], int]:
    """(transcribed files, untranscribed files, files left out for saying a keyword) of one split."""
    files = rw.select("speech", split, sources)
    said = [f for f in files if says_a_word(what_is_said(f), keywords)]
    known = [f for f in files if what_is_said(f) is not None and f not in said]
    unknown = [f for f in files if what_is_said(f) is None]
    return known, unknown, len(said)


def _filter_path(checkpoint: str | None) -> Path | None:
    from speechseq.streaming.backends import resolve_checkpoint

    return Path(resolve_checkpoint(checkpoint)) if checkpoint else None


@torch.no_grad()
def keyword_scores(windows: np.ndarray, checkpoint: str, batch: int = 256) -> np.ndarray:
    """The highest keyword probability the model at `checkpoint` gives each int16 window."""
    from speechseq.deploy.checkpoint import load_inference
    from speechseq.features.logmel import frontend_module

    loaded = load_inference(_filter_path(checkpoint), map_location="cpu")
    model, frontend = loaded.model.eval(), frontend_module(loaded.frontend)
    keyword_cols = [i for i, name in enumerate(loaded.labels) if name not in (SILENCE, UNKNOWN)]
    out = []
    for start in range(0, len(windows), batch):
        waves = torch.from_numpy(windows[start:start + batch].astype(np.float32) / 32767.0)
        probs = torch.softmax(model(frontend(waves)).float(), dim=-1)
        out.append(probs[:, keyword_cols].max(dim=1).values.numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _cache_key(paths: list[Path], o: DictConfig, seed: int, keywords: tuple[str, ...]) -> str:
    h = hashlib.sha1(json.dumps({"format": WINDOWS_FORMAT, "seed": seed, "keywords": list(keywords),
                                 "per_second": o.windows_per_second, "min_active": o.min_active,
                                 "filter": o.filter_checkpoint, "threshold": o.filter_threshold}).encode())
    filt = _filter_path(o.filter_checkpoint)
    if filt is not None and filt.is_file():  # a new shipped model filters anew
        st = filt.stat()
        h.update(f"|{st.st_size}|{st.st_mtime_ns}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def split_windows(o: DictConfig, rw: RealWorldIndex, split: str, keywords: tuple[str, ...], seed: int,
                  progress: bool = True) -> tuple[WindowSet, dict]:
    """One split's negative windows, with a report of what was left out and why."""
    known, unknown, said = negative_files(rw, split, o.sources, keywords)
    sure = speech_windows([f.path for f in known], seed, o.windows_per_second, o.min_active, progress=progress,
                          desc=f"speech windows ({split}, transcribed)")
    unsure = speech_windows([f.path for f in unknown], seed, o.windows_per_second, o.min_active, progress=progress,
                            desc=f"speech windows ({split})")
    report = {"files_saying_a_keyword": said, "transcribed_windows": len(sure), "untranscribed_windows": len(unsure),
              "unreadable": [f["path"] for f in sure.failed + unsure.failed]}
    if o.filter_checkpoint and len(unsure):
        scores = keyword_scores(unsure.waves, o.filter_checkpoint)
        flagged = scores >= o.filter_threshold
        report["filtered_as_keyword"] = int(flagged.sum())
        log.info("openworld: %d of %d untranscribed %s windows scored >= %g as a keyword by %s and left out",
                 int(flagged.sum()), len(unsure), split, o.filter_threshold, o.filter_checkpoint)
        unsure = unsure.keep(~flagged)
    return WindowSet.join([sure, unsure]), report


def cached_split_windows(o: DictConfig, rw: RealWorldIndex, split: str, keywords: tuple[str, ...], seed: int,
                         cache_dir: str | None, progress: bool = True) -> tuple[WindowSet, dict]:
    """`split_windows`, read from `cache_dir`/openworld when made before with the same files and settings."""
    paths = [f.path for f in rw.select("speech", split, o.sources)]
    path = None
    if cache_dir:
        path = Path(cache_dir).expanduser() / "openworld" / f"windows-{split}-{_cache_key(paths, o, seed, keywords)}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                return WindowSet(z["waves"], list(z["sources"])), json.loads(str(z["report"]))
    windows, report = split_windows(o, rw, split, keywords, seed, progress)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, waves=windows.waves, sources=np.asarray(windows.sources, dtype=str),
                         report=json.dumps(report))
        except OSError as exc:
            log.warning("could not cache the open-world windows in %s (%s)", path, exc)
    return windows, report


def noise_files(cfg: DictConfig, rw: RealWorldIndex, split: str = "train") -> list[Path]:
    """The recorded noise of `split` that joins the dataset's (none when openworld.noise is off)."""
    return [f.path for f in rw.select("noise", split, cfg.openworld.sources)] if cfg.openworld.noise else []


def open_world_index(cfg: DictConfig) -> RealWorldIndex | None:
    return scan_real_world(cfg.openworld.root, cfg.openworld.sources) if cfg.openworld.root else None


def add_negatives(data, cfg: DictConfig, rw: RealWorldIndex | None, label_set: LabelSet) -> dict:
    """The train and validation splits of `data` (TrainingData) with their open-world negatives; the report.

    Without a real_world folder (`rw` None, openworld.root null) only the synthetic negatives join:
    they need no recordings, so a user's own Speech Commands download still learns other words."""
    o = cfg.openworld
    if not label_set.use_unknown:
        return {}
    report = add_speech_windows(data, cfg, rw, label_set) if rw is not None and o.speech_percentage > 0 else {}
    if o.tts_clips > 0 and o.tts_percentage > 0:
        report["tts"] = add_synthetic_negatives(data, cfg, label_set)
    return report


def drawn_percentage(percentage: float, o: DictConfig, label_set: LabelSet) -> float:
    """The share of all keyword clips drawn per epoch: `percentage`, or of one word's clips with o.per_word."""
    return percentage / max(1, len(label_set.words)) if o.per_word else percentage


def add_speech_windows(data, cfg: DictConfig, rw: RealWorldIndex, label_set: LabelSet) -> dict:
    """Windows of real_world's speech as `_unknown_` in the train and validation splits; the report."""
    o, d = cfg.openworld, cfg.data
    unknown = label_set.index(UNKNOWN)
    report = {"root": str(rw.root), "files": rw.summary()}
    for name in ("train", "validation"):
        windows, rep = cached_split_windows(o, rw, name, tuple(label_set.words), d.seed, d.cache_dir,
                                            cfg.trainer.progress)
        share = drawn_percentage(o.speech_percentage, o, label_set)
        split = getattr(data, name).with_negatives(windows.waves, unknown, share, windows.sources)
        setattr(data, name, split)
        report[name] = {**rep, "windows": len(windows), "drawn": split.n_negative}
    log.info("openworld: %d / %d speech windows in the train / validation pools, %d / %d drawn as _unknown_",
             report["train"]["windows"], report["validation"]["windows"], data.train.n_negative,
             data.validation.n_negative)
    return report


TTS_VALIDATION_SEED = 1_000_003   # the validation corpus is drawn apart from every training seed


def add_synthetic_negatives(data, cfg: DictConfig, label_set: LabelSet) -> dict:
    """Synthetic speech (speechseq.data.tts) as `_unknown_`: tts_clips for training, a tenth for validation.

    With tts_engines=[auto] and no engine installed, training goes on without it (one warning)."""
    from speechseq.data.tts import synthetic_negatives
    from speechseq.data.tts.engines import EngineMissingError

    o, d = cfg.openworld, cfg.data
    engines = "auto" if list(o.tts_engines) == ["auto"] else list(o.tts_engines)
    unknown = label_set.index(UNKNOWN)
    report = {}
    for name, seed, n in (("train", d.seed, o.tts_clips), ("validation", TTS_VALIDATION_SEED, max(1, o.tts_clips // 10))):
        try:
            waves, manifest = synthetic_negatives(d.cache_dir, seed, n, engines, cfg.trainer.progress,
                                                  exclude=tuple(label_set.words))
        except EngineMissingError as exc:
            if engines != "auto":
                raise
            log.warning("openworld.tts_clips: %s; training goes on without synthetic negatives", exc)
            return {"skipped": str(exc)}
        split = getattr(data, name)
        before = split.n_negative
        names = [f"tts/{m.get('engine', '?')}-{m.get('voice', '?')}/{m.get('text', '?')}" for m in manifest]
        share = drawn_percentage(o.tts_percentage, o, label_set)
        setattr(data, name, split.with_negatives(waves, unknown, share, names))
        report[name] = {"clips": int(len(waves)), "drawn": getattr(data, name).n_negative - before}
    log.info("openworld: %d / %d synthetic negatives in the train / validation pools", report["train"]["clips"],
             report["validation"]["clips"])
    return report

"""The detector a user meets: at the end of training, streams are built from the validation split
(near, and the same words played in one simulated room), the best checkpoint's posteriors are
computed over them, and the detector settings and per-class thresholds chosen for
`calibration.max_false_alarms_per_hour` are written into best.safetensors. speechseq-stream,
-listen, -serve and `speechseq.Recognizer` then use them with no extra step.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from speechseq.data.layout import DatasetIndex
from speechseq.evaluation.streams import posterior_track
from speechseq.fsutil import atomic_write_text
from speechseq.labels import LabelSet
from speechseq.streaming.backends import load_classifier
from speechseq.streaming.calibrate import calibrate, stored_record
from speechseq.streaming.calibration_store import write_checkpoint_calibration
from speechseq.streaming.recognizer import settings_for
from speechseq.streaming.sweep import PosteriorTrack
from speechseq.streaming.open_stream import write_open_stream
from speechseq.streaming.synth_stream import build_stream, write_stream

log = logging.getLogger(__name__)
STREAM_RECIPE = "loud"  # the noise bed the shipped model was calibrated on (scripts/calibrate_pretrained.sh)
OPEN_STREAM_SNR_DB = (5.0, 20.0)  # open-world calibration streams: speech over noise, uniform per event


def joined(tracks: list[PosteriorTrack]) -> PosteriorTrack:
    """Several streams' posteriors and truth as one track, each after the one before."""
    times, probs, truth, talk, offset_ms = [], [], [], [], 0.0
    for t in tracks:
        times.append(t.times_ms + offset_ms)
        probs.append(t.probs)
        truth += [(w[0], w[1] + offset_ms, *(x + offset_ms for x in w[2:])) for w in t.truth]
        talk += [(start + offset_ms, end + offset_ms) for start, end in t.talk]
        offset_ms += t.duration_s * 1000
    return PosteriorTrack(np.concatenate(times), np.concatenate(probs), tracks[0].labels, truth, offset_ms / 1000, talk)


def take_names(take: int) -> tuple[str, str]:
    """The folders of one take's near and far stream: near/ and far/, then near_2/ and far_2/, ..."""
    suffix = "" if take == 0 else f"_{take + 1}"
    return f"near{suffix}", f"far{suffix}"


def write_validation_streams(c: DictConfig, index: DatasetIndex, label_set: LabelSet, folder: Path,
                             open_world=None) -> list[Path]:
    """stream.wav + labels.csv per condition under `folder`, for each of `calibration.takes` (other
    words, noise and room per take): near/, and far/ with calibration.rooms, then near_2/, far_2/...

    With `open_world` (a RealWorldIndex, openworld.root), each stream is an open-world one
    (speechseq.streaming.open_stream): the validation commands, class-balanced and drawn by speaker
    (`calibration.draw`), among other words and talk of real_world's validation split, over its noise
    and the dataset's, so the detector is chosen where people talk."""
    if open_world is not None:
        from speechseq.evaluation.openworld_stream import stream_pools

        # the same pools for every take (stream_pools reads every speech file's header)
        pools = stream_pools(index, "validation", label_set, open_world, "validation", dataset_noise=True)
        build = lambda seed: _open_world_stream(c, pools, seed)  # noqa: E731
    else:
        build = lambda seed: _plain_stream(c, index, label_set, seed)  # noqa: E731
    return _write_takes(c, folder, int(c.get("takes", 1)), int(c.seed), take_names, build)


PLAIN_SEED_OFFSET = 100  # the plain takes' seeds: apart from the open-world takes' (c.seed, c.seed + 1, ...)


def write_plain_streams(c: DictConfig, index: DatasetIndex, label_set: LabelSet, folder: Path) -> list[Path]:
    """`calibration.plain_takes` pairs of the dataset's own validation streams (its filler words over its
    noise, no talk) as plain/ and plain_far/, then plain_2/, plain_far_2/...: beside open-world streams,
    the budget must hold on these too (issue 32's streams are of this kind)."""
    def names(take: int) -> tuple[str, str]:
        suffix = "" if take == 0 else f"_{take + 1}"
        return f"plain{suffix}", f"plain_far{suffix}"

    return _write_takes(c, folder, int(c.get("plain_takes", 0) or 0), int(c.seed) + PLAIN_SEED_OFFSET, names,
                        lambda seed: _plain_stream(c, index, label_set, seed))


def _write_takes(c: DictConfig, folder: Path, takes: int, first_seed: int, names, build) -> list[Path]:
    """Each take's stream (`build(seed)` -> wave and how to write it) under `names(take)[0]`, and with
    calibration.rooms the same words in one simulated room under `names(take)[1]`."""
    from speechseq.augment.rooms import reverberate_stream

    made = []
    for take in range(takes):
        seed = first_seed + take
        near, far = names(take)
        wave, write = build(seed)
        made.append(write(folder / near, wave))
        if c.rooms:
            made.append(write(folder / far, reverberate_stream(wave, c.rt60, c.distance, seed=seed)))
    return made


def _plain_stream(c: DictConfig, index: DatasetIndex, label_set: LabelSet, seed: int):
    wave, words = build_stream(index, "validation", label_set, seconds=c.seconds, seed=seed, noise=STREAM_RECIPE)
    return wave, lambda out, w: write_stream(out, w, words)


def _open_world_stream(c: DictConfig, pools, seed: int):
    from speechseq.streaming.open_stream import OpenStreamRecipe, build_open_stream

    recipe = OpenStreamRecipe(seconds=c.seconds, snr_db=OPEN_STREAM_SNR_DB, draw=c.get("draw", "speaker"))
    wave, words, talk = build_open_stream(pools, recipe, seed)
    return wave, lambda out, w: write_open_stream(out, w, words, talk)


def calibrate_after_training(cfg: DictConfig, best_path: Path, index: DatasetIndex, label_set: LabelSet,
                             out_dir: Path) -> dict:
    """Build the validation streams, choose the detector, store it in `best_path`; returns the record."""
    c = cfg.calibration
    folder = out_dir / "calibration"
    open_world = None
    if cfg.get("openworld") is not None and cfg.openworld.get("root"):
        from speechseq.data.real_world import scan_real_world

        open_world = scan_real_world(cfg.openworld.root, cfg.openworld.get("sources"))
    wavs = write_validation_streams(c, index, label_set, folder, open_world)
    plain = write_plain_streams(c, index, label_set, folder) if open_world is not None else []
    classifier = load_classifier(best_path, "torch", num_threads=max(1, int(cfg.trainer.num_threads)))
    settings = settings_for(classifier, {})  # the default hop and window of the live loop
    tracks, plain_tracks = ([posterior_track(classifier, wav, wav.with_name("labels.csv"), settings.hop_ms,
                                             settings.window_ms, progress=cfg.trainer.progress) for wav in group]
                            for group in (wavs, plain))
    result = calibrate(joined(tracks), float(c.max_false_alarms_per_hour),
                       max_detections_per_hour_of_talk=c.get("max_detections_per_hour_of_talk"),
                       groups=(joined(plain_tracks),) if plain_tracks else ())
    record = stored_record(result, settings.hop_ms, settings.window_ms,
                           " + ".join(f"calibration/{w.parent.name}/{w.name}" for w in wavs))
    if plain:
        record["also_within"][0]["input"] = " + ".join(f"calibration/{w.parent.name}/{w.name}" for w in plain)
    write_checkpoint_calibration(best_path, record)
    atomic_write_text(folder / "calibration.json", json.dumps(result, indent=2))
    s, v = record["settings"], record["validation"]
    log.info("detector calibrated on %.0f s of validation streams (%s) for <= %g false alarms/h: %s, threshold %g%s; "
             "validation %.1f%% correct, %.1f%% wrong, %.1f false alarms/h", v["duration_s"],
             ", ".join(w.parent.name for w in wavs), c.max_false_alarms_per_hour, s["detector"], s["threshold"],
             f", per class {s['class_thresholds']}" if s["class_thresholds"] else "", v["correct_pct"],
             v["wrong_pct"], v["false_alarms_per_hour"])
    for also in record.get("also_within", []):
        log.info("... and %.1f false alarms/h on %.0f s of the dataset's own streams (%.1f%% correct there)",
                 also["false_alarms_per_hour"], also["duration_s"], also["correct_pct"])
    return record


def recalibrate_checkpoint(checkpoint: str | Path, data_root: str | Path, out_dir: str | Path,
                           overrides: dict | None = None, num_threads: int = 1, progress: bool = True,
                           open_world_root: str | Path | None = None) -> dict:
    """Calibrate a finished checkpoint's detector as the end of training does, with its stored
    `calibration.*` changed by `overrides` (e.g. {"takes": 2}); the record and the calibration config
    used are stored in the checkpoint (in place) and the record in the model.json of an ONNX export
    beside it (CHECKPOINT with .onnx). The streams and calibration.json go under `out_dir`/calibration.
    With `open_world_root` (a real_world folder) the streams are open-world ones, among talk and other
    words over recorded noise, from the sources the checkpoint's config names.

    >>> recalibrate_checkpoint("runs/.../best.safetensors", "data/speech_commands", "runs/recal", {"takes": 2})  # doctest: +SKIP
    """
    from dataclasses import fields

    from omegaconf import OmegaConf

    from speechseq.config.checks import validate_calibration
    from speechseq.config.training import CalibrationConfig
    from speechseq.data.layout import scan_dataset
    from speechseq.deploy.metadata import read_checkpoint_metadata
    from speechseq.evaluation.evaluate import label_set_from_names
    from speechseq.streaming.calibration_store import (CalibrationError, rewrite_checkpoint_metadata,
                                                       write_onnx_calibration)

    checkpoint = Path(checkpoint)
    meta = read_checkpoint_metadata(checkpoint, CalibrationError)
    known = {f.name for f in fields(CalibrationConfig)}
    stored = {k: v for k, v in ((meta.get("config") or {}).get("calibration") or {}).items() if k in known}
    c = OmegaConf.merge(OmegaConf.structured(CalibrationConfig), stored, overrides or {}, {"enabled": True})
    validate_calibration(c)  # ConfigError: one line naming the key
    sources = ((meta.get("config") or {}).get("openworld") or {}).get("sources")
    cfg = OmegaConf.create({"calibration": c, "trainer": {"num_threads": num_threads, "progress": progress},
                            "openworld": {"root": str(open_world_root) if open_world_root else None, "sources": sources}})
    record = calibrate_after_training(cfg, checkpoint, scan_dataset(data_root), label_set_from_names(meta["labels"]),
                                      Path(out_dir))
    used = OmegaConf.to_container(c)
    rewrite_checkpoint_metadata(checkpoint, lambda m: m.setdefault("config", {}).__setitem__("calibration", used))
    onnx = checkpoint.with_suffix(".onnx")
    if onnx.is_file():
        write_onnx_calibration(onnx, record)
    return record

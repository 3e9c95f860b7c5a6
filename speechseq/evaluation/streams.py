"""`speechseq-eval mode=stream|calibrate`: the streaming detector on a long labelled WAV.

mode=stream without labels= (a recording with no commands in it: talk, TV, a kitchen) reports the
detections per hour and the words that fired instead (speechseq.evaluation.open_world).

mode=stream: the posteriors are computed once (the live loop's windows, in batches), then the
detector is replayed at each threshold: sweep.csv / sweep.json / detection_curve.png (correct %
against false alarms per hour, the operating point marked), and stream_report.json +
detections.csv at the operating point (the knobs given, else the model's calibrated values).

mode=calibrate: on a validation stream, choose the detector and threshold for
`stream.max_false_alarms_per_hour` (speechseq.streaming.calibrate) and write them into the
checkpoint's metadata (in place, atomically, or into a copy at `output=`), and into an ONNX
export's model.json with `onnx=MODEL.onnx`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from speechseq.deploy.onnx_runtime import metadata_path
from speechseq.fsutil import atomic_write_text, portable_name
from speechseq.labels import UNKNOWN
from speechseq.streaming.backends import load_classifier, names_pretrained, resolve_checkpoint
from speechseq.streaming.calibration_store import (
    calibration_of,
    write_checkpoint_calibration,
    write_onnx_calibration,
)
from speechseq.streaming.offline import window_posteriors, with_flush
from speechseq.streaming.recognizer import settings_for, settings_from_config
from speechseq.streaming.scoring import format_stream_report
from speechseq.streaming.silence import SILENCE_GATE_DBFS
from speechseq.streaming.sources import WavFileSource
from speechseq.streaming.sweep import (
    PosteriorTrack,
    format_sweep_table,
    sweep_thresholds,
    write_sweep_csv,
)
from speechseq.streaming.open_stream import read_talk
from speechseq.streaming.synth_stream import read_truth


def _check_inputs(cfg) -> None:
    if not cfg.input or (not cfg.labels and cfg.mode != "stream"):
        raise ValueError(f"mode={cfg.mode} needs input=STREAM.wav and labels=labels.csv "
                         "(make them with scripts/make_stream_wav.py)")
    for key, kind in (("input", "the stream's WAV file"), ("labels", "its labels.csv")):
        if not cfg[key]:
            continue
        if Path(cfg[key]).is_dir():
            raise FileNotFoundError(f"{key}={cfg[key]} is a folder; give {kind} (scripts/make_stream_wav.py "
                                    f"writes stream.wav and labels.csv into its --out folder)")
        if not Path(cfg[key]).is_file():
            raise FileNotFoundError(f"{key}={cfg[key]} does not exist")


def posterior_track(classifier, wav: str | Path, labels_csv: str | Path | None, hop_ms: float, window_ms: float,
                    progress: bool = True, front_end=None, silence_gate_dbfs: float = SILENCE_GATE_DBFS
                    ) -> PosteriorTrack:
    """The classifier's posteriors over the whole file as the live loop computes them (through the
    `front_end` stage when one is set: stream.enhance; the silence gate; flushed at the end, as
    speechseq-stream flushes a file), and its truth (none without a labels file)."""
    rate = classifier.frontend.sample_rate
    source = WavFileSource(wav, block_ms=10_000, sample_rate=rate)
    blocks = list(source)
    wave = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    times, probs = window_posteriors(classifier, with_flush(wave, rate, hop_ms, window_ms), hop_ms, window_ms,
                                     progress=progress, front_end=front_end, silence_gate_dbfs=silence_gate_dbfs)
    truth = read_truth(labels_csv) if labels_csv else []
    talk_csv = Path(labels_csv).with_name("talk.csv") if labels_csv else None  # an open-world stream's talk
    talk = read_talk(talk_csv) if talk_csv is not None and talk_csv.is_file() else None
    return PosteriorTrack(times, probs, classifier.labels, truth, len(wave) / rate, talk)


def stream_classifier(cfg) -> tuple[object, str]:
    """(backend, its path) that mode=stream scores: an ONNX export on onnxruntime, a checkpoint on
    torch (the shipped model when checkpoint= is null or `pretrained`)."""
    runtime = "onnx" if str(cfg.checkpoint).lower().endswith(".onnx") else "torch"
    path = resolve_checkpoint(cfg.checkpoint, runtime)
    return load_classifier(path, runtime, num_threads=1), path


def evaluate_stream(cfg) -> dict:
    _check_inputs(cfg)
    settings_from_config(cfg.stream)  # bad knobs fail before the model loads
    if not cfg.labels:
        from speechseq.evaluation.open_world import evaluate_unlabelled_stream

        return evaluate_unlabelled_stream(cfg)
    classifier, checkpoint = stream_classifier(cfg)
    settings = settings_for(classifier, cfg.stream)
    track = posterior_track(classifier, cfg.input, cfg.labels, settings.hop_ms, settings.window_ms,
                            front_end=settings.front_end, silence_gate_dbfs=settings.silence_gate_dbfs)
    detections = track.detections(settings.smoothing)
    report = track.score(settings.smoothing)
    rows = sweep_thresholds(track, settings.smoothing)
    unknown_labels = sorted({w[0] for w in track.truth if w[0] not in track.keywords and w[0] != UNKNOWN})
    calibrated = calibration_of(classifier.metadata)
    report.update({"checkpoint": checkpoint, "input": str(cfg.input), "labels": str(cfg.labels),
                   "settings": _settings_dict(settings), "calibrated_in_checkpoint": calibrated,
                   "labels_not_in_model": unknown_labels})
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "stream_report.json", json.dumps(report, indent=2))
    atomic_write_text(out / "detections.csv", "time_ms,label,score\n" + "".join(d.csv_row() + "\n" for d in detections))
    write_sweep_csv(rows, out / "sweep.csv")
    atomic_write_text(out / "sweep.json", json.dumps({"settings": _settings_dict(settings), "rows": rows,
                                                      "operating_point": _point(report)}, indent=2))
    if cfg.plots:
        from speechseq.evaluation.plots import plot_detection_curve

        plot_detection_curve(rows, out / "detection_curve.png", _point(report),
                             title=f"{Path(cfg.input).parent.name}/{Path(cfg.input).name}: {settings.smoothing.detector}, "
                                   f"average {settings.smoothing.average_window_ms:g} ms")
    thr = settings.smoothing.threshold
    print(format_sweep_table(rows, marked=None if settings.smoothing.class_thresholds else thr))
    print(f"operating point ({_describe(settings.smoothing, calibrated)}):")
    print(format_stream_report(report))
    if unknown_labels:
        print(f"note: labels {unknown_labels} are not words of this model; they were scored as unknown words")
    print(f"wrote {out / 'stream_report.json'}, sweep.csv, sweep.json" + (", detection_curve.png" if cfg.plots else ""))
    return report


def calibrate_checkpoint(cfg) -> dict:
    from speechseq.streaming.calibrate import calibrate, stored_record

    _check_inputs(cfg)
    budget = float(cfg.stream.max_false_alarms_per_hour)
    if budget < 0:
        raise ValueError(f"stream.max_false_alarms_per_hour must not be negative, got {budget}")
    if not cfg.checkpoint:
        raise ValueError("mode=calibrate writes the detector into a checkpoint: give checkpoint=PATH (.safetensors); "
                         "for a calibrated copy of the shipped model, checkpoint=pretrained output=COPY.safetensors")
    if names_pretrained(cfg.checkpoint):
        if not cfg.output:
            raise ValueError("checkpoint=pretrained: mode=calibrate leaves the shipped model as it is; give "
                             "output=COPY.safetensors for the calibrated copy")
    elif not str(cfg.checkpoint).endswith(".safetensors"):
        raise ValueError(f"checkpoint={cfg.checkpoint}: mode=calibrate writes into a .safetensors checkpoint; give "
                         f"that, and an export beside it as onnx=MODEL.onnx")
    if cfg.output and not str(cfg.output).endswith(".safetensors"):
        raise ValueError(f"output={cfg.output}: the calibrated copy must be a .safetensors file")
    if cfg.onnx and not metadata_path(cfg.onnx).is_file():
        raise FileNotFoundError(f"onnx={cfg.onnx}: no {metadata_path(cfg.onnx).name} beside it (an export by speechseq-export)")
    checkpoint = resolve_checkpoint(cfg.checkpoint, "torch")
    classifier = load_classifier(checkpoint, "torch", num_threads=1)
    hop_ms, window_ms = float(cfg.stream.hop_ms), float(cfg.stream.window_ms)
    track = posterior_track(classifier, cfg.input, cfg.labels, hop_ms, window_ms,
                            silence_gate_dbfs=float(cfg.stream.silence_gate_dbfs))
    result = calibrate(track, budget)
    # the stream's name and folder only: the record ships inside the model, machine paths must not
    record = stored_record(result, hop_ms, window_ms, portable_name(cfg.input, parts=2))
    target = write_checkpoint_calibration(checkpoint, record, cfg.output)
    written = [str(target)]
    if cfg.onnx:
        written.append(str(write_onnx_calibration(cfg.onnx, record)))
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "calibration.json", json.dumps(result, indent=2))
    v, s = record["validation"], record["settings"]
    print(f"calibrated for <= {budget:g} false alarms/hour on {cfg.input} ({v['duration_s'] / 60:.1f} min, "
          f"{v['command_words']} command words): detector {s['detector']}, average {s['average_window_ms']:g} ms, "
          f"threshold {s['threshold']:g}" + (f", per-class {s['class_thresholds']}" if s["class_thresholds"] else "")
          + f", margin {s['margin']:g}, suppression {s['suppression_ms']:g} ms")
    print(f"validation: correct {v['correct_pct']:.1f}%  wrong {v['wrong_pct']:.1f}%  "
          f"false alarms {v['false_alarms_per_hour']:.1f}/hour" + ("" if record["within_budget"] else
                                                                    "  (no setting met the budget: fewest false alarms)"))
    print(f"wrote the settings into {', '.join(written)}; details in {out / 'calibration.json'}")
    return result


def _settings_dict(settings) -> dict:
    s = settings.smoothing
    return {"hop_ms": settings.hop_ms, "window_ms": settings.window_ms, "mode": settings.mode,
            "detector": s.detector, "average_window_ms": s.average_window_ms, "threshold": s.threshold,
            "class_thresholds": dict(s.class_thresholds), "margin": s.margin, "temperature": s.temperature,
            "suppression_ms": s.suppression_ms, "minimum_count": s.minimum_count}


def _point(report: dict) -> dict:
    return {k: report[k] for k in ("correct_pct", "wrong_pct", "false_alarms_per_hour")}


def _describe(smoothing, calibrated: dict) -> str:
    where = "calibrated in the checkpoint" if calibrated else "defaults"
    per_class = f", per-class {dict(smoothing.class_thresholds)}" if smoothing.class_thresholds else ""
    return f"{smoothing.detector}, threshold {smoothing.threshold:g}{per_class}; null knobs from {where}"

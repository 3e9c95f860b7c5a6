"""The shipped-model plumbing: where it is looked for, and the script that rebuilds it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

import speechseq.deploy.model_card as model_card
import speechseq.deploy.pretrained as pretrained
from tests.conftest import REPO


def test_missing_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(pretrained.PretrainedModelMissing, match="train_pretrained.sh"):
        pretrained.default_checkpoint()
    with pytest.raises(FileNotFoundError, match="kws12_mini.onnx"):  # an OSError: one-line CLI error
        pretrained.default_checkpoint("onnx")
    with pytest.raises(ValueError, match="runtime"):
        pretrained.default_checkpoint("tflite")
    (tmp_path / "kws12_mini.safetensors").write_bytes(b"x")
    assert pretrained.default_checkpoint("torch") == tmp_path / "kws12_mini.safetensors"


@pytest.mark.slow
def test_rebuild_script_trains_exports_and_writes_the_card(synthetic_root, tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "SPEECHSEQ_PRETRAINED_RUN": str(tmp_path / "run"),
           "SPEECHSEQ_PRETRAINED_DIR": str(tmp_path / "dest"), "SPEECHSEQ_CALIBRATE": "0"}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "train_pretrained.sh"), str(synthetic_root), "openworld.root=null", "openworld.tts_clips=0", "data.tts_command_takes=0", "trainer.max_epochs=1",
         "model.hidden_size=16", "model.num_layers=1", f"data.cache_dir={tmp_path / 'cache'}",
         "trainer.progress=false"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dest = tmp_path / "dest"
    assert sorted(p.name for p in dest.iterdir()) == [
        "MODEL_CARD.md", "kws12_mini.json", "kws12_mini.onnx", "kws12_mini.safetensors"]
    assert (dest / "kws12_mini.safetensors").read_bytes() == (tmp_path / "run/checkpoints/best.safetensors").read_bytes()
    report = json.loads((tmp_path / "run" / "test_report.json").read_text())
    card = (dest / "MODEL_CARD.md").read_text()
    assert f"**{100 * report['accuracy']:.2f} %** ({report['n']:,} clips" in card
    assert "CC BY 4.0" in card and "experiment=mini" in card and "model.hidden_size=16" in card
    assert "{" not in card.split("## How it was made")[0]  # every placeholder filled
    noisy = {f"{r['snr_db']:g}": r["accuracy"] for r in report["noise"]}  # experiment=mini scores in noise
    assert f"| 0 dB SNR | {100 * noisy['0']:.2f} % |" in card and f"| clean | {100 * report['accuracy']:.2f} % |" in card
    assert_tidy(card)
    from speechseq.deploy.onnx_runtime import OnnxClassifier
    assert OnnxClassifier(dest / "kws12_mini.onnx").labels[:2] == ["_silence_", "_unknown_"]


# more than 4 decimals: a raw float, not a figure for reading (arXiv:1804.03209 is an identifier)
LONG_FLOAT = re.compile(r"(?<![\w:.])\d+\.\d{5,}")


def assert_tidy(card: str) -> None:
    """No raw floats, and every table row has as many cells as its heading."""
    assert not LONG_FLOAT.findall(card), LONG_FLOAT.findall(card)
    width = None
    for line in card.splitlines():
        if not line.startswith("|"):
            width = None
        elif width is None:
            width = line.count("|")
        else:
            assert line.count("|") == width, line


def _fake_run(root, long: float = 0.123456789) -> dict:
    """A finished run's reports with raw floats everywhere, beside the shipped checkpoint (no training)."""
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.safetensors").symlink_to(pretrained.default_checkpoint("torch"))
    labels = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    metric = {"precision": 0.9 + long / 10, "recall": 2 / 3, "f1": 0.7777777, "support": 28}
    (run / "summary.json").write_text(json.dumps(
        {"parameters": 613645, "epochs_completed": 120, "best_epoch": 113, "best_val_acc": 0.9135959339263025}))
    (run / "test_report.json").write_text(json.dumps(
        {"accuracy": 0.9617834394904459, "n": 785, "macro_f1": 0.957912345678, "per_class": dict.fromkeys(labels, metric),
         "noise": [{"snr_db": snr, "accuracy": 0.9 - snr / 300 + long / 100} for snr in (20.0, 10.0, 5.0, 0.0)]}))
    (run / "data_report.json").write_text(json.dumps({"splits": {"train": {"keyword": 3625, "unknown_drawn": 453,
                                                                           "silence": 453}}}))
    stats = {"mean": 0.91 + long / 100, "std": 0.0038 + long / 1000, "min": 0.906, "max": 0.9136, "n": 3}
    (root / "aggregate.json").write_text(json.dumps({"runs": [{}, {}, {}], "stats": {
        "best_val_acc": stats, "epochs": {**stats, "mean": 120.0}, "run_seconds": {**stats, "mean": 1116.123456},
        "test_clean": stats, "test_20dB": stats, "test_0dB": stats}}))
    cal = root / "calibrate"
    (cal / "calibrate").mkdir(parents=True)
    stream = {"duration_s": 600.0, "command_words": 140, "correct_pct": 92.857142857, "wrong_pct": 1.4285714,
              "false_alarms_per_hour": 24.000000001, "median_latency_from_end_ms": 216.33333,
              "p90_latency_from_end_ms": 369.1234567}
    (cal / "calibrate" / "calibration.json").write_text(json.dumps({
        "settings": {"detector": "recognize_commands", "average_window_ms": 800.0, "threshold": 0.55,
                     "class_thresholds": {}, "margin": 0.0, "suppression_ms": 1500.0},
        "max_false_alarms_per_hour": 30.0, "within_budget": True,
        "per_class": {"used": False, "held_out_gains_pct": [-0.735294117647058, 2.836879432624116], "min_gain_pct": 1.0},
        "validation": {**stream, "duration_s": 1200.0, "command_words": 277, "p90_latency_from_end_ms": None}}))
    for recipe in ("loud", "tf"):
        (cal / f"test_{recipe}").mkdir()
        (cal / f"test_{recipe}" / "stream_report.json").write_text(json.dumps(stream))
    (cal / "summary.md").write_text("written by scripts/calibrate_pretrained.sh\n")
    return {"run_dir": run, "streams_md": cal / "summary.md", "aggregate_json": root / "aggregate.json"}


def test_card_rounds_every_figure_and_gives_its_unit(tmp_path):
    card = model_card.render_model_card(**_fake_run(tmp_path), data_root="../mini", command="speechseq-train x=1",
                                        date="2026-12-03")
    assert_tidy(card)
    assert "{" not in card.split("## How it was made")[0]  # every placeholder filled
    assert "| **Test accuracy (mini test split)** | **96.18 %** (785 clips; macro F1 95.79 %) |" in card
    assert "| Validation accuracy | 91.36 % |" in card and "4,531 training clips per epoch" in card
    assert "every 10 ms (97 frames)" in card and "2026-12-03" in card
    assert "| clean | 96.18 % |" in card and "| 0 dB SNR | 90.12 % |" in card
    assert "| test, 20 dB SNR | 91.12 | 0.39 | 90.60 | 91.36 |" in card  # the seeds, in % and points
    assert "run_seconds" not in card and "| epochs" not in card  # accuracy rows only
    assert "gained -0.735 and +2.84 points" in card  # the calibration's held-out gains, 3 significant digits
    assert "| validation, loud (tuned on) | 20 | 277 | 92.9 | 1.4 | 24.0 | 216 | - |" in card
    assert "| test, loud | 10 | 140 | 92.9 | 1.4 | 24.0 | 216 | 369 |" in card and "| test, tf |" in card
    assert "| yes | 91.2 | 66.7 | 77.8 | 28 |" in card
    # the calibration folder itself works as well as its summary.md
    assert card == model_card.render_model_card(**{**_fake_run(tmp_path / "again"), "streams_md": tmp_path / "calibrate"},
                                                data_root="../mini", command="speechseq-train x=1", date="2026-12-03")


def test_shipped_card_is_tidy():
    card = (pretrained.PRETRAINED_DIR / "MODEL_CARD.md").read_text()
    assert_tidy(card)
    assert re.search(r"\| \*\*Test accuracy \(mini test split\)\*\* \| \*\*\d+\.\d\d %\*\*", card)


def _fake_farfield(path, long: float = 0.123456789, voices: bool = True):
    """A farfield.json as scripts/farfield_report.sh writes it, with raw floats everywhere."""
    clips = [{"rt60_s": None, "distance_m": None, "snr_db": snr, "rooms": None, "accuracy": acc, "n": 785}
             for snr, acc in ((None, 0.9617834394904459), (10.0, 0.9566878980891719), (5.0, 0.9261146496815286))]
    for band, rooms, snrs in (([0.5, 1.5], 100, [None]), ([1.5, 3.0], 100, [None]), ([3.0, 5.0], 100, [None]),
                              ([1.0, 4.0], 200, [None, 10.0, 5.0])):
        clips += [{"rt60_s": rt60, "distance_m": band, "snr_db": snr, "rooms": rooms, "n": 785,
                   "accuracy": 0.95 - rt60 / 5 - band[0] / 50 - (snr is not None) * (0.2 - (snr or 0) / 100) + long / 1000}
                  for rt60 in (0.3, 0.6, 0.9) for snr in snrs]
    settings = {"detector": "peak", "threshold": 0.45, "class_thresholds": {"go": 0.6}, "average_window_ms": 500.0}
    streams = [{"name": name, "room": room, "duration_s": 600.0, "command_words": 140, "correct_pct": 80.0 + long,
                "wrong_pct": 2.142857142857, "false_alarms_per_hour": 30.000000001, "settings": settings,
                "calibrated_in_checkpoint": True}
               for name, room in (("near", None), ("room", {"rt60_s": 0.6, "distance_m": 2.5}))]
    path.write_text(json.dumps({"checkpoint": "x.safetensors", "split": "test", "clips": clips, "streams": streams,
                                "voices": {"accuracy": 0.8321428571428572, "n": 560} if voices else None}))
    return path


def _section(card: str, heading: str) -> str:
    return card.split(heading)[1].split("\n## ")[0]


def test_card_far_field_section_has_units_and_is_tidy(tmp_path, capsys):
    run = _fake_run(tmp_path)
    farfield = _fake_farfield(tmp_path / "farfield.json")
    card = model_card.render_model_card(**run, data_root="../mini", command="x", date="2026-12-03", farfield_json=farfield)
    assert_tidy(card)
    far = _section(card, "## Far field (mini test split)")
    assert ("| room RT60 \\ talker distance | 0.5-1.5 m (100 rooms) | 1.5-3 m (100 rooms) | 3-5 m (100 rooms) | "
            "1-4 m (200 rooms) | 1-4 m + 10 dB SNR | 1-4 m + 5 dB SNR |") in far
    assert "| no room | 96.18 % | 96.18 % | 96.18 % | 96.18 % | 95.67 % | 92.61 % |" in far  # clean; noise alone
    assert "| 0.6 s | 82.01 % | 80.01 % | 77.01 % | 81.01 % | 71.01 % | 66.01 % |" in far
    cells = [c.strip() for line in far.splitlines() if line.startswith("| ") and "---" not in line
             for c in line.strip("|").split("|")[1:]]
    heading_cells = {"0.5-1.5 m (100 rooms)", "command words", "minutes", "correct %", "wrong %", "false alarms per hour"}
    assert all(re.fullmatch(r"\d+\.\d\d %|\d+(\.\d)?", c) or "m" in c or c in heading_cells for c in cells), cells
    assert "scored with\nthe detector stored in the checkpoint (`peak`, threshold 0.45, per-class thresholds):" in far
    assert "| near (no room) | 10 | 140 | 80.1 | 2.1 | 30.0 |" in far
    assert "| in a room (RT60 0.6 s, talker 2.5 m) | 10 | 140 | 80.1 | 2.1 | 30.0 |" in far
    assert "83.21 % of 560 spoken commands" in far
    # the console command takes it too; without espeak-ng the voices say so
    model_card.main(["card", str(run["run_dir"]), "../mini", "x", "--farfield",
                     str(_fake_farfield(tmp_path / "no_voices.json", voices=False))])
    assert "Synthetic voices: not measured (espeak-ng missing)." in capsys.readouterr().out


def test_card_shows_the_calibration_training_stored(tmp_path, monkeypatch):
    from speechseq.streaming.calibration_store import write_checkpoint_calibration

    run = _fake_run(tmp_path)
    best = run["run_dir"] / "checkpoints" / "best.safetensors"
    shipped = best.resolve()
    best.unlink()
    record = {"settings": {"detector": "peak", "average_window_ms": 500, "threshold": 0.45, "margin": 0.0,
                           "suppression_ms": 1000, "class_thresholds": {"go": 0.6123456789}},
              "max_false_alarms_per_hour": 30.0, "within_budget": True,
              "per_class": {"used": True, "held_out_gains_pct": [1.23456789, 4.225352112676063], "min_gain_pct": 1.0},
              "validation": {"command_words": 142, "duration_s": 600.0, "correct_pct": 83.09859154929578,
                             "wrong_pct": 1.408450704225352, "false_alarms_per_hour": 12.0,
                             "median_latency_from_end_ms": 502.0,
                             "input": "calibration/near/stream.wav + calibration/far/stream.wav"}}
    write_checkpoint_calibration(shipped, record, output=best)
    read = model_card.read_checkpoint_metadata  # the run's config as a new run stores it
    monkeypatch.setattr(model_card, "read_checkpoint_metadata", lambda p, e: {
        **read(p, e), "config": {"calibration": {"rt60": 0.6, "distance": 2.5, "seconds": 300.0}}})
    args = {"data_root": "../mini", "command": "x", "date": "2026-12-03"}
    card = model_card.render_model_card(run["run_dir"], **args)
    assert_tidy(card)
    streaming = _section(card, "## Streaming")
    assert "in a simulated room (RT60 0.6 s, talker 2.5 m away): `calibration/near/stream.wav + calibration/far/stream.wav`" \
        in " ".join(streaming.split())
    assert "calibrated on these streams for at most 30\nfalse alarms per hour: `peak`" in streaming
    assert "threshold 0.45" in streaming and "per-class thresholds go 0.612 (held-out gains +1.23 and +4.23" in streaming
    assert "| validation, near + room (tuned on) | 10 | 142 | 83.1 | 1.4 | 12.0 | 502 | - |" in streaming
    assert "of talk" not in streaming
    best.unlink()  # open-world streams: what they hold and the budget per hour of talk
    talk = {**record["validation"], "talk_minutes": 3.0, "detections_per_hour_of_talk": 20.0}
    write_checkpoint_calibration(shipped, {**record, "validation": talk}, output=best)
    streaming = _section(model_card.render_model_card(run["run_dir"], **args), "## Streaming")
    assert "read speech of real_world's validation split" in streaming
    assert "20 detections per hour\nin 3 minutes of talk" in streaming or \
        "20 detections per hour in 3 minutes of talk" in " ".join(streaming.split())
    # a calibration folder (scripts/calibrate_pretrained.sh) describes the shipped detector instead
    card = model_card.render_model_card(run["run_dir"], streams_md=run["streams_md"], **args)
    assert "validation, loud (tuned on)" in card and "near + room" not in card
    # a calibration made later on a near stream only (speechseq-eval mode=calibrate): not shown as training's
    best.unlink()
    write_checkpoint_calibration(shipped, {**record, "validation": {**record["validation"],
                                                                    "input": "validation_loud/stream.wav"}}, output=best)
    assert "## Streaming" not in model_card.render_model_card(run["run_dir"], **args)


def test_the_card_says_when_per_class_thresholds_went_over_the_budget():
    cal = {"settings": {"detector": "recognize_commands", "average_window_ms": 800, "threshold": 0.65, "margin": 0.0,
                        "suppression_ms": 1500, "class_thresholds": {}}, "max_false_alarms_per_hour": 30.0}
    for gains in ([None, None], [float("-inf"), 2.5]):  # -inf: records written before None
        line = model_card._detector_line({**cal, "per_class": {"used": False, "held_out_gains_pct": gains}})
        assert "went over the false-alarm\nbudget" not in line and "inf" not in line and "None" not in line
        assert "they went over the false-alarm budget on the other" in " ".join(line.split())
    line = model_card._detector_line({**cal, "per_class": {"used": False, "held_out_gains_pct": [0.5, 2.0]}})
    assert "they gained +0.5 and +2 points" in line


def _balanced_run(root) -> dict:
    """_fake_run's reports as a run chosen on the class-balanced figure writes them (intervals, speakers)."""
    run = _fake_run(root)
    summary_path, report_path = run["run_dir"] / "summary.json", run["run_dir"] / "test_report.json"
    summary, report = json.loads(summary_path.read_text()), json.loads(report_path.read_text())
    summary.update({"select_on": "balanced_accuracy", "best_val_balanced_acc": 0.8912345678,
                    "best_val_balanced_ci": [0.86123456, 0.92123456], "val_n": 799, "val_speakers": 301})
    for i, m in enumerate(report["per_class"].values()):
        m.update({"recall_ci": [0.4812345, 0.8112345], "speakers": 20 + i})
    report.update({"balanced_accuracy": 0.9412345678, "balanced_accuracy_ci": [0.921234567, 0.961234567],
                   "classes": 12, "speakers": 250})
    for r in report["noise"]:
        r["balanced_accuracy"] = r["accuracy"] - 0.0512345
    summary_path.write_text(json.dumps(summary))
    report_path.write_text(json.dumps(report))
    agg = json.loads(run["aggregate_json"].read_text())
    agg["stats"].update({k: agg["stats"]["test_clean"] for k in ("best_val_balanced_acc", "test_balanced",
                                                                  "test_balanced_20dB")})
    run["aggregate_json"].write_text(json.dumps(agg))
    return run


def test_card_gives_the_class_balanced_figures_with_intervals_clips_and_speakers(tmp_path):
    card = model_card.render_model_card(**_balanced_run(tmp_path), data_root="../mini", command="x", date="2026-12-03")
    assert_tidy(card)
    assert "| Epochs | 120 (best class-balanced validation accuracy at epoch 113) |" in card
    assert ("| Class-balanced accuracy (mean recall over 12 classes) | validation 89.12 % (95 % CI 86.1-92.1 %); "
            "**test 94.12 %** (95 % CI 92.1-96.1 %) |") in card
    assert "| Clips and speakers behind the figures | validation: 799 clips from 301 speakers; test: 785 clips " \
           "from 250 speakers (speakers: the file names' part before `_nohash_`" in card
    assert "| yes | 91.2 | 66.7 | 77.8 | 28 | 48.1-81.1 % | 22 |" in card  # recall interval, speakers per class
    assert "| test clips | accuracy | class-balanced |" in card and "| clean | 96.18 % | 94.12 % |" in card
    seeds = _section(card, "## The recipe over 3 seeds")
    assert "| validation, class-balanced (best epoch) | 91.12 |" in seeds
    assert "| test, clean, class-balanced | 91.12 |" in seeds and "| test, class-balanced, 20 dB SNR | 91.12 |" in seeds


def test_card_of_a_run_from_before_the_balanced_figure_computes_it_from_the_per_class_recall(tmp_path):
    """The shipped model's reports have per-class recall and clips, no balanced figure, no speakers."""
    card = model_card.render_model_card(**_fake_run(tmp_path), data_root="../mini", command="x", date="2026-12-03")
    assert_tidy(card)
    # every class recall 2/3 of 28 clips: mean recall 66.67 %; each class's Wilson interval from
    # round(2/3 * 28) = 19 of 28 clips right: 49.3-82.1 %
    assert "validation not recorded (a run from before the figure); **test 66.67 %** (95 % CI 61.9-71.5 %) |" in card
    assert "| validation: not recorded; test: 785 clips (speakers not recorded) |" in card
    assert "| yes | 91.2 | 66.7 | 77.8 | 28 | 49.3-82.1 % | - |" in card
    assert "| Epochs | 120 (best validation accuracy at epoch 113) |" in card
    assert "| test clips | accuracy |\n|---|---:|\n" in card  # no balanced column without the figure


def test_card_names_the_open_world_data_and_its_table(tmp_path):
    from speechseq.deploy.card_openworld import openworld_data_row, openworld_licences, openworld_section

    config = {"openworld": {"root": "../shared/data/real_world", "noise": True, "tts_clips": 4000,
                            "tts_engines": ["espeak", "flite"],
                            "sources": ["speech/librispeech_train_clean_100", "speech/mycroft_precise"]},
              "augment": {"rir_dir": "x/rirs", "rir_sources": ["pymixconsole_irs"]}}
    row = openworld_data_row(config)
    assert "librispeech" in row and "pymixconsole_irs" in row and "4,000 synthetic" in row
    assert "recorded noise" not in row  # no noise folder among the sources
    assert "takes of each command" not in row
    assert "100 synthetic takes of each command (espeak, flite)" in openworld_data_row({**config, "data": {"tts_command_takes": 100}})
    licences = openworld_licences(config)
    assert "LibriSpeech" in licences and "MIT" in licences and "evaluation only" not in licences
    assert "evaluation only" in openworld_licences({"openworld": {"root": "x", "sources": None}})
    assert openworld_data_row({"openworld": {"root": None}}) == ""
    alone = openworld_data_row({"openworld": {"root": None, "tts_clips": 4000, "tts_engines": ["espeak"]}})
    assert "4,000 synthetic clips of other words (espeak)" in alone and "real talk" not in alone
    report = {"split": "test", "other_words": {"as_command_pct": 3.0, "n": 40},
              "sounds": {"as_command_pct": 1.0, "n": 100},
              "clips": {"recorded_rooms": {"accuracy": 0.9, "balanced_accuracy": 0.88, "n": 80}},
              "stream": {"correct_pct": 80.0, "command_words": 50, "other_words_firing_pct": 2.0, "other_words": 20,
                         "detections_per_hour_of_talk": 25.0, "talk_minutes": 6.0, "draw": "speaker"}}
    path = tmp_path / "openworld.json"
    path.write_text(json.dumps(report))
    section = openworld_section(path)
    assert "test split" in section and "| other people's other words taken for a command | 3.0 % | 40 takes |" in section
    assert "| stream among talk at 10 dB: commands correct | 80.0 % | 50 commands, drawn by speaker |" in section
    assert openworld_section(None) == ""

"""Issue 33, the commands (and issue 31, item 4): what a new user trips over there (each failed on 462e0e8).

Known command-line mistakes in one line, sound files on stdin, speechseq-eval's default model,
whole-folder and open-world scoring, a recording without commands, no runs/ folder left by a
failure, the model card's data and the README's length.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechseq.streaming.stream_cmd import run_stream
from tests.conftest import FILLERS, REPO, compose_config, write_synthetic_dataset
from tests.console import assert_one_error_line, quiet_env, run_main
from tests.streaming_helpers import SR, ToneClassifier, compose_app, tone_stream

# --- 4. known command-line mistakes: one line, exit 2 -------------------------------------------------------

@pytest.mark.parametrize("app,argv,fragments", [
    ("stream", ["stream.threshold=high"], ["stream.threshold=high", "could not be converted to Float"]),
    ("stream", ["input=x.wav", "stream=defualt"], ["stream=defualt", "choose from default"]),
    ("train", ["experiment=mnii"], ["experiment=mnii", "choose from enroll, enroll_embedding, enroll_logmel, mini", "did you mean experiment=mini?"]),
    ("stream", ["clip.wav"], ["'clip.wav' is not key=value", "did you mean input=clip.wav?"]),
    ("stream", ["input=clip.wav", "model.onnx"], ["did you mean checkpoint=model.onnx?"]),
    ("eval", ["best.safetensors"], ["did you mean checkpoint=best.safetensors?"]),
    ("train", ["trainer.max_epochs=many"], ["trainer.max_epochs=many", "Integer"]),
])
def test_a_known_mistake_is_one_line_and_exit_2(capsys, app, argv, fragments):
    from speechseq.config.command_line import refuse_bad_command_line

    with pytest.raises(SystemExit) as exc:
        refuse_bad_command_line(app, argv)
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, f"speechseq-{app}", *fragments)


@pytest.mark.parametrize("app,argv", [
    ("stream", ["input=-", "stream.threshold=0.5", "runtime=numpy", "stream=default", "stream.silence_gate_dbfs=-inf"]),
    ("stream", ["--cfg", "job", "+stream.class_thresholds={high: 0.8}", "++stream.threshold=0.4"]),
    ("train", ["-m", "model=lstm,bigru", "model.hidden_size=64,128", "trainer.seed=range(0,3)", "experiment=mini"]),
    ("eval", ["checkpoint=pretrained", "split=all", "noise_snr=[20,10]"]),
])
def test_a_good_command_line_passes(app, argv):
    from speechseq.config.command_line import command_line_problem

    assert command_line_problem(app, argv) is None


def test_a_misspelt_verb_of_speechseq_data_suggests_the_right_one(monkeypatch, capsys):
    from speechseq.data import download

    monkeypatch.setattr(sys, "argv", ["speechseq-data", "verfy", "root=x"])
    with pytest.raises(SystemExit) as exc:
        download.main()
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "speechseq-data", "unknown action 'verfy'", "did you mean verify?")


@pytest.mark.slow
def test_the_console_script_given_a_bare_file(tmp_path):
    from tests.console import script_command

    out = subprocess.run(script_command("speechseq-stream") + ["clip.wav"], capture_output=True, text=True,
                         env=quiet_env(), cwd=tmp_path, timeout=300)
    assert out.returncode == 2 and out.stdout == "" and "EQUAL" not in out.stderr
    assert_one_error_line(out.stderr, "speechseq-stream", "did you mean input=clip.wav?")


# --- failed runs leave nothing behind ------------------------------------------------------------------------

def test_a_failed_run_and_speechseq_data_leave_no_runs_folder(tmp_path, monkeypatch, capsys, synthetic_root):
    from speechseq.data import download
    from speechseq.evaluation.evaluate import main

    from speechseq.training import train

    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(main, "speechseq-eval", [f"data.root={tmp_path / 'missing'}"], "runs/eval/now",
                            monkeypatch, capsys)
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "runs").exists()
    (tmp_path / "runs").mkdir()  # an earlier run's folder stays
    (tmp_path / "runs" / "notes.txt").write_text("mine")
    code, _, err = run_main(train.main, "speechseq-train", [f"data.root={tmp_path / 'missing'}", "trainer.device=cpu"],
                            "runs/train/now", monkeypatch, capsys)
    assert code == 2 and [p.name for p in (tmp_path / "runs").iterdir()] == ["notes.txt"]
    shutil.rmtree(tmp_path / "runs")
    monkeypatch.setattr(sys, "argv", ["speechseq-data", "verify", f"root={synthetic_root}"])
    download.main()
    assert "use it with" in capsys.readouterr().out and list(tmp_path.iterdir()) == []


# --- 5. sound files on stdin; raw PCM's rate and channels ------------------------------------------------------

def tone_pcm() -> tuple[np.ndarray, list[str]]:
    wave, starts = tone_stream(["high", "low", "low"])
    return wave, [w for w, _ in starts]


def stream_stdin(data: bytes, *overrides: str) -> tuple[dict, list[str]]:
    out = io.StringIO()
    summary = run_stream(compose_app("stream", ["input=-", *overrides]), classifier=ToneClassifier(),
                         stdin=io.BytesIO(data), stdout=out, stderr=io.StringIO())
    return summary, [row.split(",")[1] for row in out.getvalue().splitlines()[1:]]


def encoded(wave: np.ndarray, rate: int, channels: int, fmt: str, subtype: str) -> bytes:
    from speechseq.audio import resample

    at_rate = resample(wave, SR, rate) if rate != SR else wave
    buf = io.BytesIO()
    sf.write(buf, np.stack([at_rate] * channels, axis=1), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("rate,channels,fmt,subtype", [(44100, 2, "WAV", "PCM_16"), (16000, 1, "WAV", "FLOAT"),
                                                       (22050, 1, "WAV", "PCM_24"), (48000, 2, "FLAC", "PCM_16")])
def test_a_sound_file_on_stdin_is_read_as_one(rate, channels, fmt, subtype):
    wave, words = tone_pcm()
    summary, heard = stream_stdin(encoded(wave, rate, channels, fmt, subtype))
    assert abs(summary["audio_seconds"] - len(wave) / SR) < 0.01 and heard == words


def test_a_live_wav_of_unknown_length_streams_and_raw_pcm_takes_its_rate_and_channels():
    wave, words = tone_pcm()
    live = bytearray(encoded(wave, 16000, 1, "WAV", "PCM_16"))
    live[40:44] = (0x7FFFFFFF).to_bytes(4, "little")  # arecord -t wav writes this for "until the end"
    summary, heard = stream_stdin(bytes(live))
    assert heard == words and abs(summary["audio_seconds"] - len(wave) / SR) < 0.01
    from speechseq.audio import resample

    stereo = np.stack([resample(wave, SR, 22050)] * 2, axis=1)
    raw = np.round(np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes()
    summary, heard = stream_stdin(raw, "stream.input_rate=22050", "stream.input_channels=2")
    assert heard == words and abs(summary["audio_seconds"] - len(wave) / SR) < 0.01
    _, heard = stream_stdin(raw)  # taken as 16 kHz mono, it is another (slower, lower) sound
    assert heard != words


# --- 7. speechseq-eval: the shipped model, a whole folder, the open world ----------------------------------------

def eval_cfg(tmp_path, *overrides: str):
    return compose_config("eval", ["device=cpu", "plots=false", f"data.cache_dir={tmp_path / 'cache'}", *overrides],
                          tmp_path / "out")


@pytest.mark.parametrize("checkpoint", [[], ["checkpoint=pretrained"]])
def test_eval_scores_the_shipped_model_by_default(synthetic_root, tmp_path, checkpoint):
    from speechseq.evaluation.evaluate import evaluate

    report = evaluate(eval_cfg(tmp_path, f"data.root={synthetic_root}", *checkpoint))
    assert report["checkpoint"].endswith("speechseq/pretrained/kws12_mini.safetensors") and report["n"] > 0


def test_a_folder_without_lists_says_it_is_split_by_hash_and_split_all_scores_every_clip(tmp_path, capsys, caplog):
    from speechseq.evaluation.evaluate import evaluate

    root = write_synthetic_dataset(tmp_path / "nolists", clips_per_word=4, lists=False)
    shutil.rmtree(root / "_background_noise_")
    with caplog.at_level(logging.WARNING):
        evaluate(eval_cfg(tmp_path, f"data.root={root}"))
    note = capsys.readouterr().out
    assert "has no testing_list.txt" in note and "hash" in note and "split=all" in note
    assert "_silence_ clips are digital zero" in caplog.text  # no _background_noise_: said, as training says it
    whole = evaluate(eval_cfg(tmp_path, f"data.root={root}", "split=all"))
    assert whole["n"] == len(list(root.glob("*/*.wav"))) and "hash" not in capsys.readouterr().out


def test_a_folder_without_commands_gets_the_open_world_report(tmp_path, capsys):
    from speechseq.evaluation.evaluate import evaluate

    root = write_synthetic_dataset(tmp_path / "other_words", clips_per_word=5, words=FILLERS, lists=False)
    sf.write(root / "talk.flac", np.random.default_rng(0).normal(0, 0.05, 3 * SR), SR)  # any audio, any depth
    report = evaluate(eval_cfg(tmp_path, f"data.root={root}"))
    saved = json.loads((tmp_path / "out" / "open_world_report.json").read_text())
    assert report == json.loads(json.dumps(saved)) and report["mode"] == "open_world"
    assert report["clips"] == 3 * 5 + 1 and sum(c["clips"] for c in report["per_class"].values()) == report["clips"]
    taken = report["taken_for_a_command"]
    words = [w for w in report["per_class"] if not w.startswith("_")]
    assert taken["clips"] == sum(report["per_class"][w]["clips"] for w in words) <= report["clips"]
    assert taken["above_threshold"] <= taken["clips"] and report["threshold"] == 0.625
    table = capsys.readouterr().out
    assert "open world: 16 clips" in table and "| _unknown_ |" in table and "taken for a command" in table


def test_a_recording_without_commands_gets_detections_per_hour_and_per_word(tmp_path, capsys):
    from speechseq.evaluation.evaluate import evaluate

    rng = np.random.default_rng(0)
    talk = rng.normal(0, 0.02, 40 * SR).astype(np.float32)
    for k, at in enumerate(range(2, 38, 4)):  # tones and chirps: not commands, maybe taken for some
        t = np.arange(SR // 2) / SR
        talk[at * SR:at * SR + SR // 2] += 0.3 * np.sin(2 * np.pi * (300 + 150 * k) * t * (1 + t))
    sf.write(tmp_path / "kitchen.wav", talk, SR, subtype="PCM_16")
    report = evaluate(eval_cfg(tmp_path, "mode=stream", f"input={tmp_path / 'kitchen.wav'}"))
    saved = json.loads((tmp_path / "out" / "stream_report.json").read_text())
    assert saved["mode"] == "stream_no_commands" and saved["duration_s"] == pytest.approx(40.0)
    assert report["detections_per_hour"] == pytest.approx(report["detections"] * 3600 / 40.0)
    assert sum(w["count"] for w in report["per_word"].values()) == report["detections"]
    rows = report["sweep"]
    assert rows[0]["detections"] >= rows[-1]["detections"] and len(rows) > 10
    detections = (tmp_path / "out" / "detections.csv").read_text().splitlines()
    assert detections[0] == "time_ms,label,score" and len(detections) == report["detections"] + 1
    assert "every detection counts as a false alarm" in capsys.readouterr().out


# --- 9. the model card names its data, 10. the README stays a guide -------------------------------------------

def test_the_card_names_the_data_and_counts_it(tmp_path):
    from speechseq.deploy.card_data import describe_training_data

    root = write_synthetic_dataset(tmp_path / "my_commands", clips_per_word=5)
    cell = describe_training_data(root, "42")
    assert cell.startswith("`my_commands`: 65 clips") and "of 13 words by 65 speakers" in cell
    assert "Google Speech Commands" in cell and "39 training clips (39 speakers)" in cell and str(tmp_path) not in cell
    shipped = (REPO / "speechseq" / "pretrained" / "MODEL_CARD.md").read_text()
    row = next(line for line in shipped.splitlines() if line.startswith("| Training data |"))
    assert "../" not in row and "6,364 clips" in row and "878 speakers" in row


def test_the_readme_stays_a_guide():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200

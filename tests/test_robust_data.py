"""A crowd-sourced folder with broken and odd files: training and evaluation go on.

Readable-but-odd files (other rates, stereo, 8/24-bit, float, NaN/inf, very long) are converted
and used; unreadable ones (empty, truncated header, not audio) are skipped with a warning,
counted, and listed in data_report.json (training) and report.json (evaluation).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.data.layout import scan_dataset
from speechseq.evaluation.evaluate import evaluate
from speechseq.training.train import train
from tests.conftest import SR, compose_config, tiny_train_overrides


def _tone(rate, seconds=1.0, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def _add_odd_files(root):
    """Odd files beside the fixture's clips. Unlisted ones land in train; listed ones in test."""
    real = next((root / "yes").glob("*.wav")).read_bytes()
    unreadable_train = {
        "yes/0000e001_nohash_0.wav": b"",                               # empty
        "yes/0000e002_nohash_0.wav": real[:30],                         # header cut short
        "no/0000e003_nohash_0.wav": b"<html><body>404 Not Found</body></html>" * 8,  # not audio
    }
    for rel, content in unreadable_train.items():
        (root / rel).write_bytes(content)
    odd_train = {
        "yes/0000f001_nohash_0.wav": (_tone(8000), 8000, "PCM_16"),
        "yes/0000f002_nohash_0.wav": (_tone(44100, channels=2), 44100, "PCM_16"),
        "no/0000f003_nohash_0.wav": (_tone(SR), SR, "PCM_U8"),
        "no/0000f004_nohash_0.wav": (_tone(SR), SR, "PCM_24"),
        "up/0000f005_nohash_0.wav": (_tone(22050, 0.4), 22050, "FLOAT"),
        "up/0000f006_nohash_0.wav": (_tone(SR, 90.0), SR, "PCM_16"),   # a minute and a half
    }
    nan_clip = _tone(SR)
    nan_clip[1000:2000], nan_clip[5000] = np.nan, np.inf
    odd_train["down/0000f007_nohash_0.wav"] = (nan_clip, SR, "FLOAT")
    for rel, (wave, rate, subtype) in odd_train.items():
        sf.write(root / rel, wave, rate, subtype=subtype)
    unreadable_test = {"left/0000e101_nohash_0.wav": b"", "left/0000e102_nohash_0.wav": bytes(range(256)) * 4}
    for rel, content in unreadable_test.items():
        (root / rel).write_bytes(content)
    sf.write(root / "left/0000f101_nohash_0.wav", _tone(48000, channels=2), 48000, subtype="PCM_24")
    with open(root / "testing_list.txt", "a") as fh:
        fh.write("\n".join([*unreadable_test, "left/0000f101_nohash_0.wav"]) + "\n")
    return sorted(unreadable_train), sorted(unreadable_test), len(odd_train)


@pytest.fixture(scope="module")
def odd_root(synthetic_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("odd") / "sc"
    shutil.copytree(synthetic_root, root)
    return (root, *_add_odd_files(root))


def _relpaths(entries, root):
    return sorted(str(Path(e["path"]).relative_to(root)) for e in entries)


def test_training_and_evaluation_go_on_and_report_skipped_files(odd_root, synthetic_root, tmp_path, caplog):
    root, bad_train, bad_test, n_odd = odd_root
    base = tiny_train_overrides(root, tmp_path / "cache", epochs=1)
    cfg = compose_config("train", base + ["model.hidden_size=16", "trainer.num_threads=1",
                                          "trainer.test_after_training=false"], tmp_path / "run")
    summary = train(cfg)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 1

    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report["unreadable_count"] == len(bad_train) == 3
    assert _relpaths(report["unreadable_files"], root) == bad_train
    assert all("cannot decode audio" in e["error"] or "no samples" in e["error"] for e in report["unreadable_files"])
    for rel in bad_train:
        assert rel in caplog.text  # each skipped file was warned about
    n_clean_train = len(scan_dataset(synthetic_root).splits["train"])
    assert report["splits"]["train"]["clips_decoded"] == n_clean_train + n_odd  # odd files converted and used
    assert report["splits"]["train"]["unreadable"] == 3

    def eval_on(data_root, out):
        ecfg = compose_config("eval", [f"checkpoint={summary['best_checkpoint']}", f"data.root={data_root}",
                                       "device=cpu", f"data.cache_dir={tmp_path / 'cache'}", "plots=false"], out)
        return evaluate(ecfg), json.loads((out / "report.json").read_text())

    odd, saved = eval_on(root, tmp_path / "eval")
    assert _relpaths(saved["unreadable_files"], root) == bad_test
    clean, _ = eval_on(synthetic_root, tmp_path / "eval_clean")
    # the readable 48 kHz stereo 24-bit clip counts; the two unreadable ones do not
    assert odd["per_class"]["left"]["support"] == clean["per_class"]["left"]["support"] + 1
    assert saved["n"] == odd["n"] > 0


def test_odd_files_are_converted_to_one_second_mono_16k(odd_root, tmp_path):
    from speechseq.data.cache import load_or_build

    root, *_ = odd_root
    paths = sorted(root.glob("*/0000f*.wav"))
    decoded = load_or_build(paths, None, SR, SR)
    assert len(decoded.ok) == len(paths) and not decoded.failed
    waves = decoded.waves.astype(np.float32) / 32767
    assert waves.shape == (len(paths), SR)
    for path, wave in zip(paths, waves):
        assert np.abs(wave).max() > 0.1, path.name  # the tone survived conversion
        spectrum = np.abs(np.fft.rfft(wave))
        assert abs(np.argmax(spectrum) - 440) <= 3, path.name  # 1 s at 16 kHz: bin = Hz

"""The shipped-model plumbing: where it is looked for, and the script that rebuilds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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
        ["bash", str(REPO / "scripts" / "train_pretrained.sh"), str(synthetic_root), "trainer.max_epochs=1",
         "model.hidden_size=16", "model.num_layers=1", f"data.cache_dir={tmp_path / 'cache'}",
         "trainer.progress=false"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dest = tmp_path / "dest"
    assert sorted(p.name for p in dest.iterdir()) == [
        "MODEL_CARD.md", "kws12_mini.json", "kws12_mini.onnx", "kws12_mini.safetensors"]
    assert (dest / "kws12_mini.safetensors").read_bytes() == (tmp_path / "run/checkpoints/best.safetensors").read_bytes()
    report = json.loads((tmp_path / "run" / "test_report.json").read_text())
    card = (dest / "MODEL_CARD.md").read_text()
    assert f"**{report['accuracy']:.4f}** (n = {report['n']}" in card
    assert "CC BY 4.0" in card and "experiment=mini" in card and "model.hidden_size=16" in card
    assert "{" not in card.split("## How it was made")[0]  # every placeholder filled
    noisy = {f"{r['snr_db']:g}": r["accuracy"] for r in report["noise"]}  # experiment=mini scores in noise
    assert f"| 0 dB SNR | {noisy['0']:.4f} |" in card and f"| clean | {report['accuracy']:.4f} |" in card
    from speechseq.deploy.onnx_runtime import OnnxClassifier
    assert OnnxClassifier(dest / "kws12_mini.onnx").labels[:2] == ["_silence_", "_unknown_"]

"""ONNX export and the torch-free runtime: same probabilities as torch, on synthetic and real clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.audio import fix_length
from speechseq.deploy.checkpoint import save_inference
from speechseq.deploy.export import export_onnx, metadata_path, run_export
from speechseq.deploy.numpy_runtime import NumpyClassifier
from speechseq.deploy.onnx_runtime import OnnxClassifier, OnnxModelError
from speechseq.features.logmel import FrontendSpec, LogMel
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from tests.conftest import REPO, compose_config, word_tone

LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def make_checkpoint(path: Path, waves: np.ndarray | None = None, **spec_kw) -> RecurrentClassifier:
    """A randomly initialised classifier whose normalisation is fitted on `waves` (so inputs look realistic)."""
    torch.manual_seed(0)
    spec = ModelSpec(n_inputs=40, n_classes=len(LABELS), **{"hidden_size": 24, **spec_kw})
    model = RecurrentClassifier(spec).eval()
    if waves is not None:
        feats = LogMel()(torch.from_numpy(waves)).reshape(-1, 40)
        model.set_normalization(feats.mean(0), feats.std(0))
    save_inference(path, model, LABELS, FrontendSpec(), extra={"metrics": {"val_acc": 0.5}, "parameters": 123})
    return model


def synthetic_waves(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([word_tone(i, rng) for i in range(n)])


def torch_probs(model: RecurrentClassifier, waves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        feats = LogMel()(torch.from_numpy(waves))
        return feats.numpy(), torch.softmax(model(feats), -1).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export (BiLSTM, frame stack 2) shared by the runtime tests: (folder, torch model, waves)."""
    tmp = tmp_path_factory.mktemp("exported")
    waves = synthetic_waves(4, seed=3)
    model = make_checkpoint(tmp / "best.safetensors", waves, frame_stack=2)
    export_onnx(tmp / "best.safetensors", tmp / "model.onnx")
    return tmp, model, waves


@pytest.mark.parametrize("spec_kw", [
    dict(cell="lstm", num_layers=2, bidirectional=True, pooling="mean", frame_stack=1),
    dict(cell="lstm", num_layers=2, bidirectional=True, pooling="attention", frame_stack=2),
    dict(cell="gru", num_layers=1, bidirectional=False, pooling="mean", frame_stack=3),
    dict(cell="rnn", num_layers=3, bidirectional=True, pooling="attention", frame_stack=1),
    dict(cell="rnn", num_layers=2, bidirectional=True, pooling="mean", frame_stack=2, nonlinearity="relu"),
])
def test_onnx_matches_torch_on_synthetic_clips(tmp_path, spec_kw):
    waves = synthetic_waves()
    model = make_checkpoint(tmp_path / "best.safetensors", waves, **spec_kw)
    meta = export_onnx(tmp_path / "best.safetensors", tmp_path / "out" / "model.onnx")
    onnx = OnnxClassifier(tmp_path / "out" / "model.onnx")
    feats, ref = torch_probs(model, waves)
    got = onnx.classify_batch(feats)
    assert got.shape == (len(waves), len(LABELS))
    assert np.abs(got - ref).max() < 1e-4
    # one window at a time, and windows of other lengths (the streaming loop may use them)
    assert np.abs(onnx(feats[0]) - ref[0]).max() < 1e-4
    with torch.no_grad():
        short = torch.softmax(model(torch.from_numpy(feats[:1, :40])), -1).numpy()
    assert np.abs(onnx(feats[0, :40]) - short[0]).max() < 1e-4
    assert meta["export_check_max_abs_diff"] < 1e-4
    assert onnx.labels == LABELS and onnx.frontend == FrontendSpec()
    assert meta["model"] == model.spec.to_dict()
    # the numpy runtime reads the same checkpoint to the same numbers
    assert np.abs(NumpyClassifier(tmp_path / "best.safetensors").batch(feats) - ref).max() < 1e-5


def test_onnx_matches_torch_on_real_clips(tmp_path, mini_root):
    clips = sorted(mini_root.glob("*/*.wav"))[::300]
    waves = np.stack([fix_length(sf.read(c, dtype="float32")[0], 16000) for c in clips])
    model = make_checkpoint(tmp_path / "best.safetensors", waves, hidden_size=64, frame_stack=2)
    export_onnx(tmp_path / "best.safetensors", tmp_path / "model.onnx")
    onnx = OnnxClassifier(tmp_path / "model.onnx")
    feats, ref = torch_probs(model, waves)
    assert len(clips) >= 15
    assert np.abs(onnx.classify_batch(feats) - ref).max() < 1e-4
    # the whole light path (numpy log-mel -> onnx) agrees with the torch path too
    from speechseq.features.numpy_logmel import log_mel
    light = np.stack([onnx(log_mel(w)) for w in waves])
    assert np.abs(light - ref).max() < 1e-4


def test_metadata_and_the_hydra_entry(tmp_path, capsys):
    make_checkpoint(tmp_path / "best.safetensors", synthetic_waves(2), frame_stack=2)
    cfg = compose_config("export", [f"checkpoint={tmp_path / 'best.safetensors'}"], tmp_path / "run")
    out = run_export(cfg)
    assert out == tmp_path / "run" / "model.onnx" and out.stat().st_size > 10_000
    meta = json.loads(metadata_path(out).read_text())
    assert meta["labels"] == LABELS and meta["format_version"] == 1
    assert meta["frontend"] == FrontendSpec().to_dict() and meta["model"]["frame_stack"] == 2
    assert meta["metrics"] == {"val_acc": 0.5} and meta["parameters"] == 123
    assert meta["source_checkpoint"] == "best.safetensors"  # its name: no machine path travels with an export
    assert meta["output"]["name"] == "probabilities" and meta["input"]["min_frames"] == 2
    assert "wrote" in capsys.readouterr().out


def test_bad_inputs_give_clear_errors(exported, tmp_path):
    from speechseq.config import ConfigError

    folder, _, _ = exported
    with pytest.raises(ConfigError, match=".onnx"):
        export_onnx(folder / "best.safetensors", tmp_path / "model.bin")
    cfg = compose_config("export", [f"checkpoint={folder / 'best.safetensors'}", "format=tflite"], tmp_path)
    with pytest.raises(ConfigError, match="only onnx"):
        run_export(cfg)
    onnx = OnnxClassifier(folder)  # a folder holding model.onnx works too
    with pytest.raises(ValueError, match="at least 2 frames"):
        onnx(np.zeros((1, 40), np.float32))
    with pytest.raises(ValueError, match="40"):
        onnx(np.zeros((97, 64), np.float32))
    with pytest.raises(OnnxModelError, match=".onnx file"):
        OnnxClassifier(folder / "best.safetensors")
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "model.onnx").write_bytes((folder / "model.onnx").read_bytes())
    with pytest.raises(OnnxModelError, match="model.json is missing"):
        OnnxClassifier(tmp_path / "lonely" / "model.onnx")


FAKE_TORCH = "raise ImportError('torch is not available on this device (test shim)')\n"


def test_runtime_never_imports_torch(exported, tmp_path):
    """The runtime on a 'device without torch': a torch package that cannot be imported."""
    folder, model, waves = exported
    files = []
    for i, w in enumerate(waves):
        files.append(tmp_path / f"clip{i}.wav")
        sf.write(files[-1], w, 16000, subtype="FLOAT")
    # a 44.1 kHz stereo file exercises the torch-free resampler
    from scipy.signal import resample_poly
    stereo = np.stack([resample_poly(waves[0], 441, 160)] * 2, axis=1)
    sf.write(tmp_path / "clip_44k.wav", stereo, 44100, subtype="PCM_16")
    files.append(tmp_path / "clip_44k.wav")
    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(FAKE_TORCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(REPO)])}
    script = ("import json, sys; from speechseq.deploy.onnx_runtime import OnnxClassifier, classify_file; "
              "c = OnnxClassifier(sys.argv[1]); "
              "out = [classify_file(c, f).probabilities.tolist() for f in sys.argv[2:]]; "
              "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules if sys.modules[m]); "
              "print(json.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", script, str(folder / "model.onnx"), *map(str, files)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = np.array(json.loads(proc.stdout))
    _, ref = torch_probs(model, waves)
    assert np.abs(got[:4] - ref).max() < 1e-4
    assert got.argmax(1).tolist() == ref.argmax(1).tolist() + [ref[0].argmax()]
    # the shim really blocks torch: the same interpreter cannot import it
    blocked = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "test shim" in blocked.stderr


def test_command_line_classifies_files(exported, tmp_path):
    folder, _, _ = exported
    sf.write(tmp_path / "a.wav", synthetic_waves(1)[0], 16000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    proc = subprocess.run([sys.executable, "-m", "speechseq.deploy.onnx_runtime", str(folder / "model.onnx"),
                           str(tmp_path / "a.wav"), str(tmp_path / "bad.wav")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    name, label, prob = proc.stdout.strip().split("\t")
    assert name.endswith("a.wav") and label in LABELS and 0 < float(prob) <= 1
    assert "bad.wav" in proc.stderr and "cannot decode" in proc.stderr

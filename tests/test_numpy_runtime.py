"""runtime=numpy: the shipped model, stateful steps, and a real stream with torch blocked."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.deploy.checkpoint import CheckpointError, save_inference
from speechseq.deploy.numpy_runtime import NumpyClassifier
from speechseq.deploy.pretrained import default_checkpoint
from speechseq.features.logmel import FrontendSpec
from speechseq.features.numpy_logmel import log_mel
from speechseq.labels import make_label_set
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from speechseq.streaming.backends import TorchClassifier, load_classifier
from speechseq.streaming.stream_cmd import run_stream
from tests.conftest import REPO
from tests.streaming_helpers import compose_app

TOLERANCE = 1e-5
FAKE_TORCH = "raise ImportError('torch is not available on this device (test shim)')\n"


@pytest.fixture(scope="module")
def shipped():
    path = default_checkpoint("numpy")
    return path, NumpyClassifier(path), TorchClassifier.from_checkpoint(path)


def test_shipped_model_numpy_equals_torch(shipped):
    path, numpy_clf, torch_clf = shipped
    assert load_classifier(path, "numpy").labels == torch_clf.labels == numpy_clf.labels
    x = (np.random.default_rng(0).normal(0, 3, (4, 98, 40)) - 8).astype(np.float32)
    assert np.abs(numpy_clf.batch(x) - torch_clf.batch(x)).max() < TOLERANCE
    assert np.abs(numpy_clf(x[0, :51]) - torch_clf(x[0, :51])).max() < TOLERANCE  # odd length, frame stacking


def test_shipped_model_numpy_equals_torch_on_real_clips(shipped, mini_root):
    _, numpy_clf, torch_clf = shipped
    from speechseq.audio import fix_length, read_audio

    files = sorted((mini_root / "yes").glob("*.wav"))[:3] + sorted((mini_root / "stop").glob("*.wav"))[:3]
    feats = np.stack([log_mel(fix_length(read_audio(f, 16000), 16000)) for f in files])
    got, ref = numpy_clf.batch(feats), torch_clf.batch(feats)
    assert np.abs(got - ref).max() < TOLERANCE
    assert got.argmax(1).tolist() == ref.argmax(1).tolist()


UNI_LABELS = ["_silence_", "_unknown_", "yes", "no", "up"]


def unidirectional(cell: str, frame_stack: int, seed: int = 0) -> RecurrentClassifier:
    torch.manual_seed(seed)
    model = RecurrentClassifier(ModelSpec(40, 5, cell=cell, hidden_size=16, num_layers=2, bidirectional=False,
                                          frame_stack=frame_stack, pooling="attention"))
    model.set_normalization(torch.full((40,), -6.0), torch.full((40,), 3.0))
    return model.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("frame_stack", [1, 2, 3])
def test_stateful_step_equals_the_full_pass(cell, frame_stack, tmp_path):
    path = tmp_path / "uni.safetensors"
    model = unidirectional(cell, frame_stack)
    save_inference(path, model, UNI_LABELS, FrontendSpec())
    numpy_clf, torch_clf = NumpyClassifier(path), TorchClassifier(model, UNI_LABELS, FrontendSpec())
    frames = (np.random.default_rng(3).normal(0, 3, (120, 40)) - 8).astype(np.float32)
    assert numpy_clf.stateful
    numpy_clf.reset(window_frames=len(frames))  # the ring holds every output: step's pool = the full pass
    torch_clf.reset(window_frames=len(frames))
    start = 0
    for size in (1, 2, 7, 10, 33, 67):  # uneven blocks: groups of frame_stack straddle them
        got, ref = numpy_clf.step(frames[start:start + size]), torch_clf.step(frames[start:start + size])
        start += size
        if ref is None:
            assert got is None
        else:
            assert np.abs(got - ref).max() < TOLERANCE
    assert start == len(frames)
    usable = len(frames) - len(frames) % frame_stack
    assert np.abs(got - numpy_clf(frames[:usable])).max() < TOLERANCE


def test_runtime_numpy_caps_the_blas_threads(shipped):
    """As num_threads caps torch's threads: OpenBLAS threads spin-waiting on a busy machine stall hops."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):  # restored on exit
        load_classifier(shipped[0], "numpy", num_threads=1)
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}


def test_bidirectional_models_cannot_step(shipped):
    with pytest.raises(RuntimeError, match="unidirectional"):
        shipped[1].step(np.zeros((10, 40), np.float32))


def test_runtime_errors_are_one_line(tmp_path, shipped):
    with pytest.raises(CheckpointError, match="does not exist"):
        NumpyClassifier(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="runtime=onnx"):
        NumpyClassifier(default_checkpoint("onnx"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        NumpyClassifier(bad)
    with pytest.raises(ValueError, match="one window"):
        shipped[1](np.zeros((2, 98, 40), np.float32))


def read_detections(path) -> list[tuple[str, float, float]]:
    with open(path) as fh:
        return [(r["label"], float(r["time_ms"]), float(r["score"])) for r in csv.DictReader(fh)]


STREAM_AND_LISTEN = """
import json, sys
import soundfile as sf
from speechseq.streaming.listen import run_listen
from speechseq.streaming.stream_cmd import run_stream
from tests.streaming_helpers import compose_app

class FileMic:  # plays the file in 50 ms blocks, then the device 'ends' with Ctrl-C
    sample_rate, device_name, overflows, dropped_blocks = 16000, 'file', 0, 0
    def __init__(self, wave): self.wave = wave
    def start(self): pass
    def close(self): pass
    def __iter__(self):
        for i in range(0, len(self.wave), 800):
            yield self.wave[i:i + 800]
        raise KeyboardInterrupt

wav, out_csv = sys.argv[1], sys.argv[2]
summary = run_stream(compose_app('stream', ['runtime=numpy', 'input=' + wav, 'output=' + out_csv]), stderr=sys.stderr)
listened = []
class Out:
    def write(self, text): listened.append(text)
    def flush(self): pass
    def isatty(self): return False
wave, _ = sf.read(wav, dtype='float32')
run_listen(compose_app('listen', ['runtime=numpy']), source=FileMic(wave), stdout=Out(), stderr=sys.stderr)
assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules if sys.modules[m])
print(json.dumps({'stream': summary['detections'], 'listen': ''.join(listened).split()}))
"""


def test_numpy_stream_and_listen_equal_torch_with_torch_blocked(mini_root, tmp_path):
    from speechseq.streaming.synth_stream import build_stream

    wave, words = build_stream(mini_root, "test", make_label_set("v2_12"), seconds=40.0, seed=3)
    sf.write(tmp_path / "stream.wav", wave, 16000, subtype="PCM_16")
    summary = run_stream(compose_app("stream", ["runtime=torch", f"input={tmp_path / 'stream.wav'}",
                                                f"output={tmp_path / 'torch.csv'}"]), stderr=io.StringIO())
    ref = [(d["label"], d["time_ms"], d["score"]) for d in summary["detections"]]
    assert len(ref) >= 3  # a real comparison: the shipped model hears words in this stream

    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(FAKE_TORCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(REPO)])}
    proc = subprocess.run([sys.executable, "-c", STREAM_AND_LISTEN, str(tmp_path / "stream.wav"),
                           str(tmp_path / "numpy.csv")], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    got = [(d["label"], d["time_ms"], d["score"]) for d in result["stream"]]
    assert [(label, t) for label, t, _ in got] == [(label, t) for label, t, _ in ref]
    assert max(abs(a[2] - b[2]) for a, b in zip(got, ref)) < 1e-4
    # the CSV it wrote says the same as the torch run's
    assert [d[:2] for d in read_detections(tmp_path / "numpy.csv")] == [d[:2] for d in read_detections(tmp_path / "torch.csv")]
    # speechseq-listen prints `<seconds> <label> <score>` per detection: the same ones
    listened = result["listen"]
    assert listened[1::3] == [label for label, _, _ in ref]
    assert [float(s) for s in listened[0::3]] == pytest.approx([t / 1000 for _, t, _ in ref], abs=0.01)
    blocked = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "test shim" in blocked.stderr


def test_command_line_classifies_files(tmp_path, mini_root):
    clip = sorted((mini_root / "yes").glob("*.wav"))[0]
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    proc = subprocess.run([sys.executable, "-m", "speechseq.deploy.numpy_runtime", str(default_checkpoint("numpy")),
                           str(clip), str(tmp_path / "bad.wav")], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 2
    name, label, prob = proc.stdout.strip().split("\t")
    assert name == str(clip) and label in make_label_set("v2_12").names and 0 < float(prob) <= 1
    assert "bad.wav" in proc.stderr and "cannot decode" in proc.stderr


def test_stateful_streaming_numpy_equals_torch_hop_by_hop(tmp_path):
    from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
    from tests.streaming_helpers import tone_stream

    path = tmp_path / "uni.safetensors"
    model = unidirectional("lstm", frame_stack=2, seed=4)
    save_inference(path, model, UNI_LABELS, FrontendSpec())
    settings = StreamSettings(mode="stateful")
    recognizers = [StreamingRecognizer(NumpyClassifier(path), settings),
                   StreamingRecognizer(TorchClassifier(model, UNI_LABELS, FrontendSpec()), settings)]
    wave, _ = tone_stream(["low", "high"])
    compared = 0
    for start in range(0, len(wave), 1234):  # blocks that cut frames and frame-stack groups anywhere
        for rec in recognizers:
            rec.feed(wave[start:start + 1234])
        numpy_rec, torch_rec = recognizers
        assert (numpy_rec.probs is None) == (torch_rec.probs is None)
        if numpy_rec.probs is not None:
            assert np.abs(numpy_rec.probs - torch_rec.probs).max() < TOLERANCE
            compared += 1
    assert all(rec.stateful for rec in recognizers) and compared > 50

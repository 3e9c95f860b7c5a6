"""Sources, backends and speechseq-stream."""

import io
import subprocess
import sys
import threading
import types

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.deploy.checkpoint import save_inference
from speechseq.features.logmel import FrontendSpec
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from speechseq.streaming.backends import (
    TorchClassifier,
    load_classifier,
    resolve_checkpoint,
)
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
from speechseq.streaming.sources import (
    MicrophoneSource,
    SourceError,
    StdinPcmSource,
    WavFileSource,
)
from speechseq.streaming.stream_cmd import run_stream
from tests.conftest import REPO
from tests.streaming_helpers import ToneClassifier, compose_app, tone_stream

LABELS = ["_silence_", "_unknown_", "yes", "no", "up"]


def _model(bidirectional=True, frame_stack=1, seed=0):
    torch.manual_seed(seed)
    spec = ModelSpec(n_inputs=40, n_classes=len(LABELS), hidden_size=16, num_layers=2,
                     bidirectional=bidirectional, frame_stack=frame_stack)
    model = RecurrentClassifier(spec)
    model.set_normalization(torch.full((40,), -5.0), torch.full((40,), 3.0))
    return model.eval()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    return path


# --- sources -------------------------------------------------------------------------------------

def test_stdin_source_odd_bytes_and_early_end():
    pcm = (np.arange(1001, dtype=np.int16) * 7).tobytes() + b"\x01"  # 1001 samples + half a sample

    class Trickle(io.RawIOBase):  # delivers 3 bytes at a time, like a slow pipe
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def read1(self, n):
            chunk, self.data = self.data[:3], self.data[3:]
            return chunk

    for stream in (io.BytesIO(pcm), Trickle(pcm)):
        src = StdinPcmSource(stream, block_ms=10)
        samples = np.concatenate(list(src))
        assert samples.size == 1001 and src.dropped_bytes == 1
        np.testing.assert_allclose(samples * 32768, np.arange(1001) * 7)
    empty = StdinPcmSource(io.BytesIO(b""))
    assert list(empty) == [] and empty.dropped_bytes == 0


def test_wav_source_converts_rate_and_channels(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44100, subtype="PCM_24")
    src = WavFileSource(tmp_path / "s.wav", block_ms=100)
    blocks = list(src)
    wave = np.concatenate(blocks)
    assert abs(len(wave) - 16000) <= 1 and max(len(b) for b in blocks) == 1600
    spectrum = np.abs(np.fft.rfft(wave[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 3
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(SourceError, match="cannot read"):
        WavFileSource(tmp_path / "bad.wav")


def test_realtime_pacing_takes_the_audio_duration(tmp_path):
    sf.write(tmp_path / "q.wav", np.zeros(4000, np.float32), 16000)
    import time
    t0 = time.monotonic()
    assert sum(len(b) for b in WavFileSource(tmp_path / "q.wav", block_ms=50, realtime=True)) == 4000
    assert time.monotonic() - t0 >= 0.2


class FakeInputStream:
    """Stands in for sounddevice.InputStream: a thread calls the callback like PortAudio would."""

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback, finished_callback):
        self.callback, self.finished = callback, finished_callback
        self.blocksize, self.blocks_before_unplug = blocksize, 5
        self.overflow_at = {2, 3}
        self.active = False

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for i in range(self.blocks_before_unplug):
            status = types.SimpleNamespace(input_overflow=i in self.overflow_at)
            self.callback(np.full((self.blocksize, 1), i, np.float32), self.blocksize, None, status)
        self.active = False  # the device disappears: PortAudio aborts the stream
        self.finished()

    def stop(self):
        raise RuntimeError("device gone")  # close() must tolerate this

    def close(self):
        pass


def test_microphone_counts_overflows_and_reports_a_vanished_device():
    mic = MicrophoneSource(block_ms=10, stream_factory=FakeInputStream)
    got = []
    with pytest.raises(SourceError, match="stopped delivering audio"):
        for block in mic:
            got.append(block)
    mic.close()
    assert [int(b[0]) for b in got] == [0, 1, 2, 3, 4]  # nothing queued is lost
    assert mic.overflows == 2 and mic.dropped_blocks == 0


def test_microphone_counts_blocks_dropped_by_a_slow_consumer():
    mic = MicrophoneSource(block_ms=10, queue_seconds=0.02, stream_factory=FakeInputStream)
    mic.start()
    import time
    time.sleep(0.3)  # consumer asleep: the queue (2 blocks) fills
    with pytest.raises(SourceError):
        list(mic)
    assert mic.dropped_blocks == 3


# --- backends ------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame_stack", [1, 2, 3])
def test_stateful_step_equals_the_window_on_the_same_frames(frame_stack):
    clf = TorchClassifier(_model(bidirectional=False, frame_stack=frame_stack), LABELS, FrontendSpec())
    assert clf.stateful
    feats = np.random.default_rng(0).normal(-5, 3, (97, 40)).astype(np.float32)
    clf.reset(window_frames=97)
    whole = clf.step(feats)
    np.testing.assert_allclose(whole, clf(feats), atol=1e-5)
    clf.reset(window_frames=97)
    pieces = [clf.step(feats[a:b]) for a, b in [(0, 1), (1, 8), (8, 8), (8, 50), (50, 97)]]
    np.testing.assert_allclose(pieces[-1], whole, atol=1e-5)


def test_stateful_mode_needs_a_unidirectional_model():
    bi = TorchClassifier(_model(), LABELS, FrontendSpec())
    with pytest.raises(ValueError, match="unidirectional"):
        StreamingRecognizer(bi, StreamSettings(mode="stateful"))
    assert not StreamingRecognizer(bi, StreamSettings(mode="auto")).stateful
    uni = TorchClassifier(_model(bidirectional=False), LABELS, FrontendSpec())
    rec = StreamingRecognizer(uni, StreamSettings(mode="auto"))
    wave, _ = tone_stream(["low", "high"])
    rec.feed(wave)
    assert rec.stateful and rec.probs is not None and abs(rec.probs.sum() - 1) < 1e-5


def test_load_classifier_errors(tiny_checkpoint):
    assert load_classifier(tiny_checkpoint).labels == LABELS
    with pytest.raises(ValueError, match="runtime"):
        load_classifier(tiny_checkpoint, runtime="tflite")
    with pytest.raises(ValueError, match="checkpoint="):
        if resolve_checkpoint(None):  # a packaged default exists: nothing to check here
            raise ValueError("checkpoint= (default present)")


def test_core_runs_with_torch_unimportable():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from speechseq.streaming import frontend, smoothing, recognizer, sources, backends\n"
        "from speechseq.models import ring, carried_state\n"
        "import speechseq.streaming.stream_cmd, speechseq.streaming.listen, speechseq.streaming.scoring\n"
        "import speechseq.streaming.calibrate, speechseq.streaming.calibration_store, speechseq.streaming.sweep\n"
        "from tests.streaming_helpers import ToneClassifier, tone_stream\n"
        "wave, _ = tone_stream(['low', 'high'])\n"
        "rec = recognizer.StreamingRecognizer(ToneClassifier())\n"
        "print([d.label for d in rec.feed(wave)])\n"
        "try:\n    backends.load_classifier('x.safetensors')\nexcept RuntimeError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['low', 'high']" and "needs PyTorch" in lines[1]


# --- speechseq-stream ----------------------------------------------------------------------------

def _stream_cfg(tmp_path, *overrides):
    return compose_app("stream", list(overrides))


def test_run_stream_writes_csv_for_file_and_stdin(tmp_path):
    wave, starts = tone_stream(["high", "low", "low"])
    sf.write(tmp_path / "in.wav", wave, 16000, subtype="FLOAT")
    out_csv, err = tmp_path / "d.csv", io.StringIO()
    summary = run_stream(_stream_cfg(tmp_path, f"input={tmp_path / 'in.wav'}", f"output={out_csv}"),
                         classifier=ToneClassifier(), stderr=err)
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "time_ms,label,score"
    assert [r.split(",")[1] for r in rows[1:]] == ["high", "low", "low"]
    assert "real-time factor" in err.getvalue() and summary["real_time_factor"] > 0
    # the same audio as raw PCM on stdin, with an odd trailing byte: same detections
    pcm = np.round(np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes() + b"\x00"
    stdout, err = io.StringIO(), io.StringIO()
    run_stream(_stream_cfg(tmp_path, "input=-", "block_ms=37"), classifier=ToneClassifier(),
               stdin=io.BytesIO(pcm), stdout=stdout, stderr=err)
    assert [r.split(",")[:2] for r in stdout.getvalue().splitlines()[1:]] == [r.split(",")[:2] for r in rows[1:]]
    assert "odd byte" in err.getvalue()


def test_run_stream_needs_input(tmp_path):
    with pytest.raises(ValueError, match="input=FILE.wav"):
        run_stream(_stream_cfg(tmp_path), classifier=ToneClassifier())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_stream(_stream_cfg(tmp_path, "input=/nonexistent.wav"), classifier=ToneClassifier())


@pytest.mark.slow
def test_speechseq_stream_console_script(tiny_checkpoint, tmp_path):
    wave, _ = tone_stream(["low"])
    sf.write(tmp_path / "in.wav", wave, 16000)
    cmd = [sys.executable, "-m", "speechseq.streaming.stream_cmd"]
    out = subprocess.run(cmd + [f"checkpoint={tiny_checkpoint}", f"input={tmp_path / 'in.wav'}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "time_ms,label,score"
    assert "real-time factor" in out.stderr and "hops (window mode)" in out.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / ".hydra").exists()
    shipped = subprocess.run(cmd + [f"input={tmp_path / 'in.wav'}"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)  # no checkpoint=: the model shipped in the package
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.splitlines()[0] == "time_ms,label,score"
    bad = subprocess.run(cmd + [f"checkpoint={tmp_path / 'nope.safetensors'}", f"input={tmp_path / 'in.wav'}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "nope.safetensors" in bad.stderr and "Traceback" not in bad.stderr


def test_without_a_shipped_model_the_error_asks_for_a_checkpoint(monkeypatch):
    import speechseq.deploy.pretrained as pretrained
    from speechseq.streaming.backends import resolve_checkpoint

    monkeypatch.setattr(pretrained, "SUFFIXES", {k: ".missing" for k in pretrained.SUFFIXES})
    with pytest.raises(FileNotFoundError, match="checkpoint="):
        resolve_checkpoint(None)
    assert resolve_checkpoint("given.safetensors") == "given.safetensors"


def test_a_checkpoint_under_home_is_found_from_its_tilde(monkeypatch, tmp_path):
    # Hydra takes `checkpoint='~/m.safetensors'` only quoted, so unexpanded: every command (streaming,
    # evaluation, and training's init_from, distill_from and open-world filter) resolves it here
    from speechseq.streaming.backends import resolve_checkpoint

    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_checkpoint("~/runs/best.safetensors") == str(tmp_path / "runs" / "best.safetensors")


def test_pretrained_names_the_shipped_model_unless_a_file_is_so_named(monkeypatch, tmp_path):
    # one rule for every command: `pretrained` (or nothing) is the shipped model, but a file of that
    # name in the working folder is read as the file it is
    from speechseq.streaming.backends import names_pretrained, resolve_checkpoint

    monkeypatch.chdir(tmp_path)
    assert names_pretrained(None) and names_pretrained("") and names_pretrained("pretrained")
    assert not names_pretrained("runs/best.safetensors")
    (tmp_path / "pretrained").write_bytes(b"")
    assert not names_pretrained("pretrained")
    assert resolve_checkpoint("pretrained") == "pretrained"

"""speechseq.Recognizer: the application API (speechseq/streaming/api.py) on the shipped model."""

from __future__ import annotations

import doctest
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import speechseq
from speechseq.audio import resample
from speechseq.streaming import api, loading
from speechseq.streaming.api import Recognizer, choose_runtime, stream_options
from speechseq.streaming.calibration_store import calibration_of
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
from speechseq.streaming.sources import MicrophoneSource, SourceError, WavFileSource
from tests.conftest import MINI, REPO
from tests.streaming_helpers import ToneClassifier, tone_stream

SR = 16000
FRAME = 1280  # 80 ms
# test-split clips (speakers unseen in training) that the shipped model classifies at >= 0.95
COMMAND_CLIPS = {"yes": "yes/189cbabe_nohash_0.wav", "stop": "stop/189cbabe_nohash_0.wav",
                 "go": "go/0132a06d_nohash_1.wav", "off": "off/189cbabe_nohash_1.wav"}
needs_mini = pytest.mark.skipif(not (MINI / "testing_list.txt").is_file(), reason=f"shared mini set missing at {MINI}")


def clip(word: str) -> np.ndarray:
    """A test-split clip as the int16 PCM on disk."""
    pcm, rate = sf.read(MINI / COMMAND_CLIPS[word], dtype="int16")
    assert rate == SR
    return pcm


def command_stream(words=tuple(COMMAND_CLIPS), gap_s: float = 1.5, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """int16 PCM: faint noise with the words' clips every (1 s + gap_s); and each word's start in s."""
    rng = np.random.default_rng(seed)
    pieces, starts, at = [], [], 0.5
    pieces.append(rng.normal(0, 30, int(0.5 * SR)))
    for word in words:
        starts.append(at)
        pcm = clip(word).astype(np.float64)
        pieces += [pcm + rng.normal(0, 30, len(pcm)), rng.normal(0, 30, int(gap_s * SR))]
        at += (len(pcm) + int(gap_s * SR)) / SR
    return np.clip(np.round(np.concatenate(pieces)), -32768, 32767).astype(np.int16), starts


def write_command_wav(path: Path, words=tuple(COMMAND_CLIPS)) -> Path:
    sf.write(path, command_stream(words)[0], SR, subtype="PCM_16")
    return path


def feed(recognizer, audio, frame: int = FRAME, sample_rate: int = SR):
    return [d for i in range(0, len(audio), frame) for d in recognizer.process(audio[i:i + frame], sample_rate)]


@pytest.fixture(scope="module")
def numpy_recognizer():
    return Recognizer.load(runtime="numpy")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300,
                          check=False)


# --- the package's face ---------------------------------------------------------------------------

def test_import_speechseq_loads_nothing_heavy():
    out = run_python("import sys, speechseq; print(sorted(m for m in sys.modules if m.startswith(('numpy', 'torch', 'speechseq'))))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['speechseq']"


def test_the_public_api_runs_with_torch_blocked():
    code = """
import sys
sys.modules['torch'] = None
import numpy as np
from speechseq import Classification, KeywordDetection, Listening, Recognizer
r = Recognizer.load()
assert r.runtime == 'numpy', r.runtime
result = r.classify(np.random.default_rng(0).normal(0, 0.01, 16000))
assert isinstance(result, Classification) and result.label == '_silence_', result
assert r.process(np.zeros(1280, np.int16)) == []
print('torch' in sys.modules and sys.modules['torch'] is not None)
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_public_names_resolve_and_unknown_ones_do_not():
    assert speechseq.Recognizer is Recognizer and "Recognizer" in dir(speechseq)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = speechseq.Nope


# --- loading ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", ["numpy", "onnx"])
def test_load_uses_the_calibrated_detector_unless_told_otherwise(runtime):
    r = Recognizer.load(runtime=runtime)
    calibrated = calibration_of(r.classifier.metadata)
    assert calibrated and r.settings.smoothing.threshold == calibrated["threshold"]
    strict = Recognizer.load(runtime=runtime, threshold=0.9, class_thresholds={"stop": 0.6}, hop_ms=50)
    assert strict.settings.smoothing.threshold == 0.9 and dict(strict.settings.smoothing.class_thresholds) == {"stop": 0.6}
    assert strict.settings.hop_ms == 50 and r.settings.hop_ms == 100


def test_load_refuses_bad_options_and_runtimes_before_loading(monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(loading, "load_classifier", no_loading)
    with pytest.raises(TypeError, match="thresold"):
        Recognizer.load(runtime="numpy", thresold=0.5)
    with pytest.raises(ValueError, match="runtime='tflite'"):
        Recognizer.load(runtime="tflite")
    with pytest.raises(ValueError, match="threshold must be within 0..1"):
        Recognizer.load(runtime="numpy", threshold=2)


def test_the_docstring_examples_run():
    results = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 8 and results.failed == 0


def test_auto_runtime(monkeypatch, tmp_path):
    assert choose_runtime("model.onnx", "auto") == "onnx"
    assert choose_runtime("best.safetensors", "auto") == "torch"
    assert choose_runtime(None, "numpy") == "numpy"
    monkeypatch.setitem(sys.modules, "torch", None)
    assert choose_runtime(None, "auto") == "numpy" and choose_runtime("best.safetensors", "auto") == "numpy"


def test_stream_options_keeps_the_recognizer_knobs_of_a_config_group():
    group = {"hop_ms": 100, "threshold": None, "class_thresholds": {}, "max_false_alarms_per_hour": 30}
    assert stream_options(group) == {"hop_ms": 100, "class_thresholds": {}}


# --- bad input ---------------------------------------------------------------------------------------

BAD_AUDIO = {
    "nan": np.array([0.0, np.nan, 0.1] * 400, np.float32),
    "inf": np.array([0.0, np.inf] * 600),
    "strings": np.array(["a", "b"] * 600),
    "complex": np.ones(1200, np.complex64),
    "object": np.array([0.1, None] * 600, dtype=object),
    "bool": np.ones(1200, bool),
    "int64 (ambiguous scale)": np.ones(1200, np.int64),
    "int16 values stored as floats": np.full(1200, 1000.0, np.float32),
    "3-D": np.zeros((2, 600, 2), np.float32),
    "many channels both ways": np.zeros((600, 600), np.float32),
    "empty": np.zeros(0, np.float32),
    "a string": "hello",
}


@pytest.mark.parametrize("name", BAD_AUDIO)
def test_bad_audio_raises_value_error_saying_what_was_expected(numpy_recognizer, name):
    with pytest.raises(ValueError, match="expected"):
        numpy_recognizer.process(BAD_AUDIO[name])
    with pytest.raises(ValueError, match="expected"):
        numpy_recognizer.classify(BAD_AUDIO[name])


@pytest.mark.parametrize("rate", [0, -16000, 44100.5, "16k", True, None])
def test_bad_sample_rates_raise(numpy_recognizer, rate):
    with pytest.raises(ValueError, match="sample_rate"):
        numpy_recognizer.process(np.zeros(FRAME, np.int16), sample_rate=rate)


def test_the_rate_of_a_stream_changes_only_after_reset(numpy_recognizer):
    numpy_recognizer.process(np.zeros(FRAME, np.int16), sample_rate=16000)
    with pytest.raises(ValueError, match="reset"):
        numpy_recognizer.process(np.zeros(FRAME, np.int16), sample_rate=48000.0)
    numpy_recognizer.reset()
    numpy_recognizer.process(np.zeros(FRAME, np.int16), sample_rate=48000.0)  # a sounddevice-style float rate
    numpy_recognizer.reset()


# --- the low-level loop no longer takes int16 as floats ------------------------------------------------

def test_streaming_recognizer_scales_int16_like_the_microphone_and_refuses_the_rest():
    wave, _ = tone_stream(["low", "high", "low"])
    pcm = np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16)
    as_float = StreamingRecognizer(ToneClassifier(), StreamSettings())
    as_int16 = StreamingRecognizer(ToneClassifier(), StreamSettings())
    expected = [d for i in range(0, len(pcm), FRAME) for d in as_float.feed(pcm[i:i + FRAME] / np.float32(32768))]
    got = [d for i in range(0, len(pcm), FRAME) for d in as_int16.feed(pcm[i:i + FRAME])]
    assert [d.label for d in expected] == ["low", "high", "low"] and got == expected
    for bad in (np.array(["x"] * 10), np.full(10, np.nan, np.float32), np.zeros((160, 2), np.float32)):
        with pytest.raises(ValueError, match="StreamingRecognizer.feed: expected"):
            as_int16.feed(bad)


# --- classify ----------------------------------------------------------------------------------------

@needs_mini
def test_classify_takes_int16_float_channels_and_rates_alike(numpy_recognizer):
    r, pcm = numpy_recognizer, clip("stop")
    reference = r.classify(pcm)
    assert reference.label == "stop" and reference.score > 0.9 and reference.start_s == 0.0
    assert set(reference.scores) == set(r.labels) and abs(sum(reference.scores.values()) - 1) < 1e-4
    as_float = r.classify(pcm / 32768.0)
    assert as_float.scores == pytest.approx(reference.scores, abs=1e-6)
    stereo = np.stack([pcm, pcm], axis=1)
    assert r.classify(stereo).scores == pytest.approx(reference.scores, abs=1e-6)    # channels last
    assert r.classify(stereo.T).scores == pytest.approx(reference.scores, abs=1e-6)  # channels first
    for rate in (8000, 44100):
        other = resample(pcm / 32768.0, SR, rate)
        assert r.classify(other, sample_rate=rate).label == "stop"
    assert r.classify_file(MINI / COMMAND_CLIPS["stop"]).scores == pytest.approx(as_float.scores, abs=1e-6)


@needs_mini
def test_classify_pads_short_clips_and_finds_the_word_in_long_ones(numpy_recognizer):
    r, pcm = numpy_recognizer, clip("go")[:12000]
    short = r.classify(pcm)
    assert short.scores == pytest.approx(r.classify(np.pad(pcm, (0, 4000))).scores, abs=1e-6)
    long, starts = command_stream(["go"], gap_s=3.0)
    found = r.classify(long)
    assert found.label == "go" and abs(found.start_s - starts[0]) <= 0.5


# --- process -------------------------------------------------------------------------------------------

@needs_mini
def test_process_detects_int16_frames_as_it_detects_floats(numpy_recognizer):
    r = numpy_recognizer
    pcm, starts = command_stream()
    r.reset()
    heard = feed(r, pcm)
    assert [d.label for d in heard] == list(COMMAND_CLIPS)
    assert all(start < d.time_s < start + 2.0 for d, start in zip(heard, starts))
    r.reset()
    assert feed(r, pcm.astype(np.float32) / 32768, frame=1000) == heard  # frame length and dtype change nothing
    r.reset()
    assert feed(r, pcm) == heard  # reset starts the stream afresh
    r.reset()


@needs_mini
def test_process_resamples_a_stream_at_another_rate(numpy_recognizer):
    r = numpy_recognizer
    pcm, _ = command_stream()
    at_48k = resample(pcm / 32768.0, SR, 48000)
    r.reset()
    heard = feed(r, at_48k, frame=3840, sample_rate=48000)
    r.reset()
    assert [d.label for d in heard] == list(COMMAND_CLIPS)


@needs_mini
def test_recognizers_side_by_side_keep_their_own_state():
    pcm, _ = command_stream()
    eager, strict = Recognizer.load(runtime="numpy", threshold=0.3), Recognizer.load(runtime="numpy", threshold=0.995)
    alone = {id(r): feed(r, pcm) for r in (eager, strict)}
    for r in (eager, strict):
        r.reset()
    together = {id(eager): [], id(strict): []}
    for i in range(0, len(pcm), FRAME):  # the same frames, interleaved
        for r in (eager, strict):
            together[id(r)] += r.process(pcm[i:i + FRAME])
    assert together == alone
    assert [d.label for d in alone[id(eager)]] == list(COMMAND_CLIPS)
    assert len(alone[id(strict)]) < len(alone[id(eager)])


@needs_mini
def test_torch_and_numpy_runtimes_hear_the_same_words_side_by_side():
    pcm, _ = command_stream()
    on_torch, on_numpy = Recognizer.load(runtime="torch"), Recognizer.load(runtime="numpy")
    heard = {r.runtime: [] for r in (on_torch, on_numpy)}
    for i in range(0, len(pcm), FRAME):
        for r in (on_torch, on_numpy):
            heard[r.runtime] += r.process(pcm[i:i + FRAME])
    assert [(d.label, d.time_s) for d in heard["torch"]] == [(d.label, d.time_s) for d in heard["numpy"]]
    assert [d.score for d in heard["torch"]] == pytest.approx([d.score for d in heard["numpy"]], abs=1e-4)
    assert [d.label for d in heard["torch"]] == list(COMMAND_CLIPS)


# --- listen ---------------------------------------------------------------------------------------------

@needs_mini
def test_listen_calls_back_from_a_thread_and_stops_with_the_block(numpy_recognizer, tmp_path):
    heard, threads = [], set()

    def on_detection(d):
        heard.append(d.label)
        threads.add(threading.current_thread().name)

    with numpy_recognizer.listen(on_detection, source=WavFileSource(write_command_wav(tmp_path / "c.wav"))) as listening:
        assert listening.wait(120)
    assert heard == list(COMMAND_CLIPS) and threads == {"speechseq-listen"} and listening.error is None


@needs_mini
def test_an_error_in_the_callback_reaches_the_caller(numpy_recognizer, tmp_path):
    def on_detection(d):
        raise KeyError(d.label)

    listening = numpy_recognizer.listen(on_detection, source=WavFileSource(write_command_wav(tmp_path / "c.wav")))
    listening.wait(120)
    with pytest.raises(KeyError, match="yes"):
        listening.stop()
    listening.stop()  # raised once; stopping again is quiet


class PcmMicrophone:
    """Stands in for sounddevice.InputStream: delivers int16 PCM as the float32 PortAudio makes of it."""

    pcm = np.zeros(0, np.int16)

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback, finished_callback):
        self.callback, self.blocksize, self.active = callback, blocksize, False

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for i in range(0, len(self.pcm) - self.blocksize + 1, self.blocksize):
            self.callback((self.pcm[i:i + self.blocksize, None] / np.float32(32768)).astype(np.float32),
                          self.blocksize, None, None)

    def stop(self):
        self.active = False

    def close(self):
        pass


@needs_mini
def test_listen_on_a_microphone_stream(numpy_recognizer):
    PcmMicrophone.pcm = command_stream()[0]
    heard, all_heard = [], threading.Event()

    def on_detection(d):
        heard.append(d.label)
        if len(heard) == len(COMMAND_CLIPS):
            all_heard.set()

    mic = MicrophoneSource(block_ms=50, stall_timeout_s=600, stream_factory=PcmMicrophone)
    with numpy_recognizer.listen(on_detection, source=mic):
        all_heard.wait(120)
    assert heard == list(COMMAND_CLIPS) and mic._closed


def test_listen_without_sounddevice_says_what_to_install(numpy_recognizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(SourceError, match="pip install"):
        numpy_recognizer.listen(print)

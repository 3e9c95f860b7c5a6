"""The front-end stage before the log-mel (stream.enhance): streamed equals offline, whatever the blocks.

The plumbing (recognizer and window_posteriors through the same stage) is checked with a numpy
stand-in as well as with nara-wpe's real WPE (in the dev extra; skipped where it is missing).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import speechseq.streaming.enhance as enhance
from speechseq.streaming.enhance import FixedChunks, FrontEnd, FrontEndSettings
from speechseq.streaming.offline import replay, window_posteriors
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings, settings_from_config
from speechseq.streaming.smoothing import SmoothingConfig
from tests.streaming_helpers import ToneClassifier, tone_stream

SMOOTHING = SmoothingConfig(average_window_ms=300, threshold=0.6, suppression_ms=800, minimum_count=2)
WORDS = ["high", "low", "high"]


class DelayingSmoother:
    """Stand-in enhancer with state and delay: a gentle one-pole low-pass on 100-sample chunks, 250 samples late."""

    def __init__(self, *args, **kwargs):
        self.chunks = FixedChunks(100)
        self.reset()

    def reset(self):
        self.chunks.reset()
        self._y = 0.0
        self._delay = np.zeros(250)

    def process(self, samples):
        out = []
        for chunk in self.chunks.split(samples):
            filtered = np.empty_like(chunk)
            for i, x in enumerate(chunk):
                self._y = 0.1 * self._y + 0.9 * x
                filtered[i] = self._y
            joined = np.concatenate([self._delay, filtered])
            out.append(joined[:100])
            self._delay = joined[100:]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def _stream():
    wave, _ = tone_stream(WORDS, gap_s=1.7, seed=2)
    return wave


def _streamed(wave, blocks, settings):
    """(detections, [(time_ms, probs)] per hop, recognizer) of the live loop fed in `blocks`-sized pieces."""
    rec = StreamingRecognizer(ToneClassifier(), settings)
    hops, update = [], rec.smoother.update

    def recording_update(time_ms, probs):
        hops.append((time_ms, np.array(probs)))
        return update(time_ms, probs)

    rec.smoother.update = recording_update
    dets, i = [], 0
    for n in blocks:
        dets += rec.feed(wave[i:i + n])
        i += n
    dets += rec.feed(wave[i:])
    return dets, hops, rec


def _cuts(seed):
    rng = np.random.default_rng(seed)
    return [int(n) for n in rng.integers(0, 3000, 60)] + [1, 1, 127, 0, 513]


def _assert_streamed_equals_offline(front_end: FrontEndSettings, hop_ms=100.0):
    """Offline posteriors and detections, after checking the live loop gives the same for several block cuttings."""
    wave = _stream()
    settings = StreamSettings(hop_ms=hop_ms, smoothing=SMOOTHING, front_end=front_end)
    times, probs = window_posteriors(ToneClassifier(), wave, hop_ms, batch_size=7, front_end=front_end)
    offline = replay(times, probs, ToneClassifier.labels, SMOOTHING)
    for blocks in ([len(wave)], [1600] * (len(wave) // 1600), _cuts(0), _cuts(1)):
        dets, hops, rec = _streamed(wave, blocks, settings)
        assert dets == offline
        assert np.allclose([t for t, _ in hops], times)
        assert np.abs(np.stack([p for _, p in hops]) - probs).max() < 1e-5
        assert rec.samples_seen == len(wave)  # input samples, not the stage's output
    return probs, offline


def test_enhance_comes_from_the_stream_knobs_and_is_checked():
    assert settings_from_config({}).front_end == FrontEndSettings()
    assert settings_from_config({"enhance": None}).front_end == FrontEndSettings("none")
    assert settings_from_config({"enhance": "wpe"}).front_end == FrontEndSettings("wpe")
    with pytest.raises(ValueError, match="stream.enhance='webrtc'"):
        settings_from_config({"enhance": "webrtc"})


def test_fixed_chunks_do_not_depend_on_block_sizes():
    wave = np.arange(1000, dtype=np.float64)
    chunks = FixedChunks(128)
    pieces = [chunks.split(wave[i:i + n]) for i, n in zip((0, 3, 3, 200, 201), (3, 0, 197, 1, 799))]
    assert np.array_equal(np.concatenate(pieces), wave[:896].reshape(7, 128))


@pytest.mark.parametrize("hop_ms", [30.0, 100.0])
def test_a_stage_runs_before_the_log_mel_alike_live_and_offline(monkeypatch, hop_ms):
    monkeypatch.setattr(enhance, "WpeEnhancer", DelayingSmoother)
    probs, offline = _assert_streamed_equals_offline(FrontEndSettings(enhance="wpe"), hop_ms)
    _, plain = window_posteriors(ToneClassifier(), _stream(), hop_ms)
    assert probs.shape == plain.shape and np.abs(probs - plain).max() > 1e-3  # the stage changed the features
    assert [d.label for d in offline] == WORDS


def test_no_stage_leaves_the_samples_alone():
    wave = _stream()
    assert FrontEnd().push(wave) is wave and not FrontEnd().active


def test_a_missing_nara_wpe_is_named_in_one_line(monkeypatch):
    for name in list(sys.modules):
        if name == "nara_wpe" or name.startswith("nara_wpe."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nara_wpe", None)  # import fails as if not installed
    with pytest.raises(ModuleNotFoundError, match="stream.enhance=wpe needs the nara-wpe package: "
                                                  "pip install nara-wpe") as err:
        StreamingRecognizer(ToneClassifier(), StreamSettings(front_end=FrontEndSettings("wpe")))
    assert "\n" not in str(err.value)


def test_wpe_streamed_equals_offline():
    pytest.importorskip("nara_wpe")
    probs, offline = _assert_streamed_equals_offline(FrontEndSettings(enhance="wpe"))
    _, plain = window_posteriors(ToneClassifier(), _stream(), 100.0)
    assert np.abs(probs - plain).max() > 1e-4
    assert [d.label for d in offline] == WORDS  # tones survive dereverberation


def test_wpe_resynthesis_is_the_input_delayed_when_nothing_is_predicted():
    pytest.importorskip("nara_wpe")
    stage = enhance.WpeEnhancer()
    stage._wpe.step_frame = lambda spectrum: spectrum  # no prediction: analysis + synthesis alone
    wave = np.random.default_rng(0).normal(0, 0.1, 4000)
    out = np.concatenate([stage.process(wave[i:i + 333]) for i in range(0, len(wave), 333)])
    lag = stage.latency_samples
    assert len(out) == 4000 // 128 * 128
    assert np.abs(out[lag:] - wave[:len(out) - lag]).max() < 1e-6


def _bursts(seconds=8.0, seed=0):
    """Noise bursts about 0.4 s on, 0.4 s off: the off stretches are digital silence (exact zeros)."""
    n = int(16000 * seconds)
    on = np.sin(2 * np.pi * 1.3 * np.arange(n) / 16000) > 0
    return np.random.default_rng(seed).normal(0, 0.05, n) * on


def test_wpe_cancels_most_of_an_echo():
    pytest.importorskip("nara_wpe")
    dry = _bursts()
    wet = dry.copy()
    wet[640:] += 0.7 * dry[:-640]  # one reflection 40 ms late
    stage = enhance.WpeEnhancer()
    out = stage.process(wet)[stage.latency_samples:]
    adapted = slice(4 * 16000, len(out))  # after 4 s of adaptation
    echo_before = np.sum((wet - dry)[adapted] ** 2)
    echo_after = np.sum((out - dry[:len(out)])[adapted] ** 2)
    assert echo_after < 0.4 * echo_before


def test_wpe_survives_digital_silence():
    """nara-wpe's own power estimate is 0 on exact zeros and its recursion overflowed to NaN there."""
    pytest.importorskip("nara_wpe")
    wave = _bursts(seconds=30.0)
    wave[16000 * 10:16000 * 12] = 0.0
    out = enhance.WpeEnhancer().process(wave)
    assert np.isfinite(out).all() and np.abs(out).max() < 2 * np.abs(wave).max()


def test_a_non_finite_wpe_frame_restarts_the_filter_and_passes_the_audio():
    pytest.importorskip("nara_wpe")
    stage = enhance.WpeEnhancer()
    broken = stage._wpe
    broken.step_frame = lambda spectrum: spectrum * np.nan
    out = stage.process(_bursts(seconds=1.0))
    assert np.isfinite(out).all() and stage._wpe is not broken

"""The streaming core: incremental frontend, ring, smoother, recognizer loop."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from speechseq.features.logmel import FrontendSpec, LogMel
from speechseq.models.ring import FrameRing
from speechseq.streaming.frontend import IncrementalLogMel, mel_filterbank
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
from speechseq.streaming.smoothing import PosteriorSmoother, SmoothingConfig
from tests.streaming_helpers import ToneClassifier, tone_stream


def _speechlike(seconds=2.3, seed=0):
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    wave = 0.2 * np.sin(2 * np.pi * 440 * t) * (t > 0.5) + rng.normal(0, 0.05, n)
    wave[8000:12000] = 0.0  # digital silence hits the log floor
    return wave.astype(np.float32)


def test_filterbank_equals_torchaudio():
    spec = FrontendSpec()
    ours = mel_filterbank(spec)
    ref = LogMel(spec).filterbank().numpy()
    assert ours.shape == ref.shape == (257, 40)
    assert np.abs(ours - ref).max() < 1e-5


@pytest.mark.parametrize("block", [1, 7, 160, 333, 512, 1600, 16000, 10**6])
def test_streamed_features_equal_offline_logmel(block):
    wave = _speechlike()
    offline = LogMel()(torch.from_numpy(wave)[None])[0].numpy()
    inc = IncrementalLogMel()
    streamed = np.concatenate([inc.push(wave[i:i + block]) for i in range(0, len(wave), block)])
    assert streamed.shape == offline.shape
    assert np.abs(streamed - offline).max() < 1e-4


def test_streamed_features_with_random_blocks_and_other_spec():
    spec = FrontendSpec(n_fft=400, win_length=400, hop_length=128, n_mels=64, f_min=0.0, f_max=8000.0)
    wave = _speechlike(seed=3)
    offline = LogMel(spec)(torch.from_numpy(wave)[None])[0].numpy()
    rng = np.random.default_rng(1)
    inc, out, i = IncrementalLogMel(spec), [], 0
    while i < len(wave):
        n = int(rng.integers(0, 900))
        out.append(inc.push(wave[i:i + n]))
        i += n
    assert np.abs(np.concatenate(out) - offline).max() < 1e-4


def test_ring_keeps_the_latest_rows_in_order():
    ring = FrameRing(4, 2)
    assert len(ring) == 0 and not ring.full
    ring.push(np.array([[0, 0], [1, 1]]))
    assert ring.window()[:, 0].tolist() == [0, 1]
    for k in range(2, 7):
        ring.push(np.array([k, k]))
    assert ring.full and ring.window()[:, 0].tolist() == [3, 4, 5, 6]
    ring.push(np.arange(20).reshape(10, 2))  # more than capacity at once
    assert ring.window()[:, 1].tolist() == [13, 15, 17, 19] and ring.count == 17


LABELS = ["_silence_", "_unknown_", "yes", "no"]


def _p(**scores):
    p = np.array([scores.get(k, 0.0) for k in ("silence", "unknown", "yes", "no")])
    return p / p.sum()


def _run(smoother, seq, hop=100):
    return [(d.time_ms, d.label) for i, p in enumerate(seq) if (d := smoother.update(i * hop, p))]


def test_smoother_averages_and_needs_minimum_count_and_threshold():
    s = PosteriorSmoother(LABELS, SmoothingConfig(average_window_ms=300, threshold=0.7, suppression_ms=0,
                                                   minimum_count=3))
    # a single confident hop is averaged away; three in a row fire once
    seq = [_p(silence=1)] * 5 + [_p(yes=1)] + [_p(silence=1)] * 5 + [_p(yes=1)] * 3 + [_p(silence=1)] * 3
    assert _run(s, seq) == [(1300, "yes")]
    s = PosteriorSmoother(LABELS, SmoothingConfig(average_window_ms=0, threshold=0.7, suppression_ms=0,
                                                   minimum_count=1))
    assert _run(s, [_p(yes=0.69, silence=0.31), _p(yes=0.71, silence=0.29)]) == [(100, "yes")]


def test_smoother_never_reports_silence_or_unknown():
    s = PosteriorSmoother(LABELS, SmoothingConfig(0, 0.5, 0, 1))
    assert _run(s, [_p(silence=1), _p(unknown=1), _p(silence=1), _p(unknown=1)]) == []


def test_smoother_suppression_and_repeated_words():
    cfg = SmoothingConfig(average_window_ms=0, threshold=0.5, suppression_ms=1000, minimum_count=1)
    s = PosteriorSmoother(LABELS, cfg)
    # yes held for 2 s: one detection
    assert _run(s, [_p(yes=1)] * 20) == [(0, "yes")]
    s.reset()
    # a different word within the suppression time is dropped, after it is reported
    assert _run(s, [_p(yes=1)] * 3 + [_p(no=1)] * 5) == [(0, "yes")]
    s.reset()
    assert _run(s, [_p(yes=1)] * 3 + [_p(no=1)] * 9) == [(0, "yes"), (1100, "no")]
    s.reset()
    # yes, silence, yes again after the suppression time: two detections
    seq = [_p(yes=1)] * 3 + [_p(silence=1)] * 10 + [_p(yes=1)] * 3
    assert _run(s, seq) == [(0, "yes"), (1300, "yes")]
    s.reset()
    # a dip below threshold also ends the word
    seq = [_p(yes=1)] * 3 + [_p(yes=0.4, no=0.3, silence=0.3)] * 10 + [_p(yes=1)] * 3
    assert _run(s, seq) == [(0, "yes"), (1300, "yes")]


def test_smoothing_config_rejects_bad_values():
    with pytest.raises(ValueError, match="threshold"):
        SmoothingConfig(threshold=1.5)
    with pytest.raises(ValueError, match="minimum_count"):
        SmoothingConfig(minimum_count=0)
    with pytest.raises(ValueError, match="hop_ms"):
        StreamSettings(hop_ms=1)


def _detect(wave, blocks, settings=StreamSettings()):
    rec = StreamingRecognizer(ToneClassifier(), settings)
    out, i = [], 0
    for n in blocks:
        out += rec.feed(wave[i:i + n])
        i += n
    out += rec.feed(wave[i:])
    return [(d.time_ms, d.label, round(d.score, 6)) for d in out], rec


def test_recognizer_finds_the_words_at_the_right_times():
    words = ["low", "high", "low", "low", "high"]
    wave, starts = tone_stream(words)
    dets, rec = _detect(wave, [1600] * (len(wave) // 1600))
    assert [d[1] for d in dets] == words
    for (t, _, _), (_, start) in zip(dets, starts):
        assert start < t < start + 1500
    # hops every 100 ms once the window is full
    # one hop per 10 frames once the 97-frame window is full: at frames 100, 110, ...
    assert len(rec.hop_seconds) == rec.frontend.frames_out // 10 - 9


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=7000), min_size=1, max_size=40),
       hop_ms=st.sampled_from([30.0, 100.0, 130.0]))
def test_detections_do_not_depend_on_block_cutting(cuts, hop_ms):
    wave, _ = tone_stream(["high", "low", "high"], gap_s=1.7, seed=2)
    settings_ = StreamSettings(hop_ms=hop_ms, smoothing=SmoothingConfig(average_window_ms=300, threshold=0.6,
                                                                        suppression_ms=800, minimum_count=2))
    reference, _ = _detect(wave, [], settings_)
    assert [d[1] for d in reference] == ["high", "low", "high"]
    assert _detect(wave, cuts, settings_)[0] == reference


def test_library_defaults_match_the_config_defaults():
    from omegaconf import OmegaConf

    from speechseq.config import PACKAGE_CONF_DIR, StreamKnobsConfig
    from speechseq.streaming.recognizer import settings_from_config

    yaml_knobs = OmegaConf.load(PACKAGE_CONF_DIR / "stream" / "default.yaml")
    schema_knobs = OmegaConf.structured(StreamKnobsConfig)
    assert settings_from_config(yaml_knobs) == settings_from_config(schema_knobs) == StreamSettings()

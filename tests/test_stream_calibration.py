"""Threshold sweeps from one posterior pass, calibration for a false-alarm budget, calibrated
settings in checkpoint / ONNX metadata, and the detectors beside RecognizeCommands."""

import json

import numpy as np
import pytest
import soundfile as sf

from speechseq.labels import COMMANDS_10, LabelSet
from speechseq.streaming.calibrate import calibrate, pick_single_threshold, stored_record
from speechseq.streaming.calibration_store import (
    calibration_of,
    write_checkpoint_calibration,
    write_onnx_calibration,
)
from speechseq.streaming.recognizer import (
    StreamingRecognizer,
    StreamSettings,
    settings_for,
)
from speechseq.streaming.scoring import score_detections
from speechseq.streaming.smoothing import PosteriorSmoother, SmoothingConfig
from speechseq.streaming.sweep import PosteriorTrack, sweep_thresholds
from speechseq.streaming.synth_stream import background, noise_gain_envelope
from tests.conftest import compose_config
from tests.streaming_helpers import ToneClassifier, compose_app, tone_stream

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def test_sweep_from_one_posterior_pass_equals_separate_live_runs():
    from speechseq.streaming.offline import window_posteriors

    words = ["low", "high", "high", "low", "high"]
    wave, starts = tone_stream(words, gap_s=1.8)
    truth = [(w, t) for w, t in starts]
    base = SmoothingConfig(average_window_ms=300, suppression_ms=800, minimum_count=2)
    times, probs = window_posteriors(ToneClassifier(), wave, 100.0)
    track = PosteriorTrack(times, probs, ToneClassifier.labels, truth, len(wave) / 16000)
    thresholds = (0.3, 0.5, 0.7, 0.9, 0.97)
    rows = sweep_thresholds(track, base, thresholds)
    for row, thr in zip(rows, thresholds):
        live = StreamingRecognizer(ToneClassifier(), StreamSettings(smoothing=base.with_threshold(thr))).feed(wave)
        r = score_detections(live, truth, {"low", "high"}, len(wave) / 16000)
        assert (row["correct"], row["wrong"], row["false_alarms"]) == (r["correct"], r["wrong"], r["false_alarms"])
    assert rows[0]["correct"] == 5 and rows[-1]["correct"] < 5  # the sweep spans the trade-off


def _silence_posteriors(seconds):
    """(times, probs, burst): a track of silence every 100 ms, and burst(start_ms, label_index, score)
    that puts 0.5 s of that class's score into it, 300 ms after start_ms."""
    times = np.arange(1000.0, seconds * 1000, 100.0)
    probs = np.tile([0.97, 0.01, 0.01, 0.01], (len(times), 1))

    def burst(start_ms, label_index, score):
        at = (times >= start_ms + 300) & (times < start_ms + 800)
        probs[at] = (1 - score) / 3
        probs[at, label_index] = score

    return times, probs, burst


def _synthetic_track(seconds=600, strong=10, weak=5, fa_scores=(0.62, 0.72, 0.82)):
    """Posteriors with known words and false alarms: 'yes' words at 0.88 (strong) and 0.78 (weak) in turn,
    and keyword bursts on no word at `fa_scores`, each lasting 0.5 s over silence."""
    times, probs, burst = _silence_posteriors(seconds)
    truth = []

    t = 2000.0
    scores = [s for i in range(max(strong, weak)) for s in [0.88] * (i < strong) + [0.78] * (i < weak)]
    for score in scores:  # strong and weak words alternate
        burst(t, 2, score)
        truth.append(("yes", t))
        t += 3000
    for score in fa_scores:
        burst(t + 5000, 3, score)  # 'no' where nobody speaks
        t += 8000
    return PosteriorTrack(times, probs, LABELS, truth, seconds)


def test_chosen_threshold_honours_the_false_alarm_budget():
    track = _synthetic_track()
    base = SmoothingConfig(average_window_ms=0, suppression_ms=500)
    grid = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
    # 600 s: one false alarm is 6 per hour; 0.6 lets all 3 through, 0.65-0.7 two, 0.75-0.8 one
    config, report, _ = pick_single_threshold(track, [base], 6.0, grid)
    assert report["false_alarms_per_hour"] <= 6.0 and report["false_alarms"] == 1
    assert config.threshold == 0.75 and report["correct"] == 15  # the weak words (0.78) kept
    config, report, _ = pick_single_threshold(track, [base], 0.0, grid)
    assert report["false_alarms"] == 0 and config.threshold == 0.85 and report["correct"] == 10
    # no setting within the budget: the fewest false alarms, said so in the record
    record = calibrate(_synthetic_track(fa_scores=(0.95,)), 0.0, [base], grid, per_class=False)
    assert not record["within_budget"] and record["validation"]["false_alarms_per_hour"] == 6.0


def test_on_a_stream_with_talk_the_budget_also_holds_per_hour_of_talk():
    track = _synthetic_track()  # false alarms at 0.62 / 0.72 / 0.82 starting 52, 60 and 68 s in
    base = SmoothingConfig(average_window_ms=0, suppression_ms=500)
    grid = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
    config, report, _ = pick_single_threshold(track, [base], 30.0, grid)
    assert config.threshold == 0.75 and report["false_alarms"] == 1  # 6 per hour: within 30
    talk = [(51000.0, 58000.0), (59000.0, 66000.0), (67000.0, 74000.0)]  # 21 s of talk around them
    talking = PosteriorTrack(track.times_ms, track.probs, track.labels, track.truth, track.duration_s, talk)
    config, report, _ = pick_single_threshold(talking, [base], 30.0, grid)
    # one detection in 21 s of talk is 171 per hour: only a threshold above every false alarm keeps 30
    assert config.threshold == 0.85 and report["detections_per_hour_of_talk"] == 0.0
    first, second = talking.split(58500.0)
    assert first.talk == talk[:1] and second.talk == talk[1:]
    record = calibrate(talking, 30.0, [base], grid, per_class=False)
    assert record["within_budget"] and record["validation"]["talk_minutes"] == pytest.approx(21 / 60)


def test_a_tighter_talk_budget_leaves_room_for_talk_the_calibration_has_not_heard():
    # false alarms at 0.79 and 0.86, above the weak words (0.78), 52 and 60 s in, in 120 s of talk
    track = _synthetic_track(fa_scores=(0.79, 0.86))
    talking = PosteriorTrack(track.times_ms, track.probs, track.labels, track.truth, track.duration_s,
                             [(50000.0, 170000.0)])
    base = SmoothingConfig(average_window_ms=0, suppression_ms=500)
    grid = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
    # one budget for both: two detections in 2 min of talk (60/h) and 12 false alarms/h are within 60
    record = calibrate(talking, 60.0, [base], grid, per_class=False)
    assert record["settings"]["threshold"] == 0.75 and record["max_detections_per_hour_of_talk"] == 60.0
    assert record["validation"]["detections_per_hour_of_talk"] == pytest.approx(60.0)
    # 30 per hour of talk: one detection there at most, so the weak words are given up for it (0.8 and
    # 0.85 both let the 0.86 one through and catch the same words: the higher threshold)
    record = calibrate(talking, 60.0, [base], grid, per_class=False, max_detections_per_hour_of_talk=30.0)
    assert record["settings"]["threshold"] == 0.85 and record["within_budget"]
    assert record["validation"]["detections_per_hour_of_talk"] == pytest.approx(30.0)
    assert stored_record(record, 100.0, 1000.0, "s.wav")["max_detections_per_hour_of_talk"] == 30.0


def test_the_budget_holds_on_streams_of_another_kind_too():
    quiet = _synthetic_track(fa_scores=())  # the commands, and nothing fires where nobody speaks
    other = _synthetic_track(fa_scores=(0.79, 0.86))  # another kind of stream: two false alarms above the weak words
    base = SmoothingConfig(average_window_ms=0, suppression_ms=500)
    grid = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
    alone = calibrate(quiet, 6.0, [base], grid, per_class=False)
    assert alone["settings"]["threshold"] == 0.75 and "also_within" not in alone  # the weak words kept
    both = calibrate(quiet, 6.0, [base], grid, per_class=False, groups=[other])
    # 600 s: one false alarm there is 6 per hour, so only thresholds above 0.79 keep the budget on both
    assert both["settings"]["threshold"] == 0.85 and both["within_budget"]
    assert both["validation"]["correct_pct"] == pytest.approx(100 * 10 / 15)  # the weak words given up
    assert both["also_within"][0]["false_alarms_per_hour"] == 6.0
    over = calibrate(quiet, 0.0, [base], grid, per_class=False, groups=[other])
    assert over["settings"]["threshold"] == 0.9 and over["within_budget"]  # above both false alarms
    never = calibrate(quiet, 0.0, [base], grid, per_class=False, groups=[_synthetic_track(fa_scores=(0.95,))])
    assert not never["within_budget"] and never["also_within"][0]["false_alarms_per_hour"] == 6.0


def test_per_class_thresholds_are_kept_only_where_they_help_on_held_out_halves():
    track = _synthetic_track(seconds=400, strong=60, weak=60, fa_scores=())
    # 'no' at 0.8 in every other gap (2.3 s after a word: on no word); the 0.78 'yes' words need a lower threshold
    for _, start in track.truth[::2]:
        at = (track.times_ms >= start + 2300) & (track.times_ms < start + 2500)
        track.probs[at] = [0.1, 0.05, 0.05, 0.8]
    base = SmoothingConfig(average_window_ms=0, suppression_ms=500)
    record = calibrate(track, 20.0, [base], (0.7, 0.75, 0.8, 0.85, 0.9))
    assert record["per_class"]["used"] and min(record["per_class"]["held_out_gains_pct"]) >= 1.0
    assert record["settings"]["class_thresholds"]["yes"] < record["settings"]["threshold"]
    plain = calibrate(_synthetic_track(), 6.0, [base], (0.6, 0.7, 0.75, 0.8, 0.85))
    assert not plain["per_class"]["used"] and plain["settings"]["class_thresholds"] == {}


def _tiny_checkpoint(path):
    from speechseq.deploy.checkpoint import save_inference
    from speechseq.features.logmel import FrontendSpec
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

    labels = LabelSet(COMMANDS_10).names
    save_inference(path, RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=8, num_layers=1)),
                   labels, FrontendSpec())
    return path


RECORD = {"settings": {"detector": "peak", "threshold": 0.62, "class_thresholds": {"yes": 0.55},
                       "average_window_ms": 500.0, "suppression_ms": 1000.0, "margin": 0.1, "temperature": 1.0},
          "max_false_alarms_per_hour": 30.0}


def test_calibrated_settings_round_trip_through_safetensors_and_onnx(tmp_path):
    from safetensors.numpy import load_file

    from speechseq.deploy.export import export_onnx
    from speechseq.deploy.onnx_runtime import OnnxClassifier
    from speechseq.streaming.backends import TorchClassifier

    ckpt = _tiny_checkpoint(tmp_path / "m.safetensors")
    before = load_file(str(ckpt))
    copy = write_checkpoint_calibration(ckpt, RECORD, tmp_path / "calibrated.safetensors")
    assert calibration_of(TorchClassifier.from_checkpoint(ckpt).metadata) == {}  # original untouched
    write_checkpoint_calibration(ckpt, RECORD)  # in place
    for path in (copy, ckpt):
        after = load_file(str(path))
        assert after.keys() == before.keys() and all(np.array_equal(after[k], before[k]) for k in before)
    knobs = compose_app("stream", []).stream
    torch_settings = settings_for(TorchClassifier.from_checkpoint(ckpt), knobs).smoothing
    assert (torch_settings.detector, torch_settings.threshold, torch_settings.margin) == ("peak", 0.62, 0.1)
    assert dict(torch_settings.class_thresholds) == {"yes": 0.55} and torch_settings.average_window_ms == 500
    export_onnx(ckpt, tmp_path / "m.onnx")  # the export carries the calibration
    assert settings_for(OnnxClassifier(tmp_path / "m.onnx"), knobs).smoothing == torch_settings
    other = dict(RECORD, settings={**RECORD["settings"], "threshold": 0.8})
    write_onnx_calibration(tmp_path / "m.onnx", other)
    assert settings_for(OnnxClassifier(tmp_path / "m.onnx"), knobs).smoothing.threshold == 0.8
    assert json.loads((tmp_path / "m.json").read_text())["labels"][2] == "yes"  # the rest kept


def test_explicit_knobs_override_the_calibration():
    class Calibrated(ToneClassifier):
        metadata = {"streaming": {"settings": {"threshold": 0.6, "class_thresholds": {"low": 0.5},
                                               "detector": "peak"}}}

    clf = Calibrated()
    given = settings_for(clf, compose_app("stream", ["stream.threshold=0.9"]).stream).smoothing
    assert given.threshold == 0.9 and given.class_thresholds == () and given.detector == "peak"
    default = settings_for(clf, compose_app("stream", []).stream).smoothing
    assert default.threshold == 0.6 and dict(default.class_thresholds) == {"low": 0.5}
    both = settings_for(clf, compose_app("stream", ["stream.threshold=0.9", "stream.detector=recognize_commands",
                                                    "+stream.class_thresholds={high: 0.8}"]).stream).smoothing
    assert (both.threshold, dict(both.class_thresholds), both.detector) == (0.9, {"high": 0.8}, "recognize_commands")
    assert StreamingRecognizer(clf).settings.smoothing == default  # no settings: the calibrated ones
    assert StreamingRecognizer(ToneClassifier()).settings == StreamSettings()  # nothing calibrated: defaults


def test_eval_mode_calibrate_writes_the_checkpoint_and_stream_uses_it(tmp_path):
    from speechseq.deploy.metadata import read_checkpoint_metadata
    from speechseq.evaluation.evaluate import evaluate

    ckpt = _tiny_checkpoint(tmp_path / "m.safetensors")
    wave, starts = tone_stream(["low", "high", "low"])
    sf.write(tmp_path / "s.wav", wave, 16000)
    (tmp_path / "labels.csv").write_text("label,start_ms\n" + "".join(f"yes,{t}\n" for _, t in starts))
    common = [f"input={tmp_path / 's.wav'}", f"labels={tmp_path / 'labels.csv'}"]
    result = evaluate(compose_config("eval", ["mode=calibrate", f"checkpoint={ckpt}", "stream.max_false_alarms_per_hour=30",
                                              f"output={tmp_path / 'cal.safetensors'}"] + common, tmp_path / "cal"))
    stored = read_checkpoint_metadata(tmp_path / "cal.safetensors", ValueError)["streaming"]
    assert stored["settings"]["threshold"] == result["settings"]["threshold"]
    assert stored["max_false_alarms_per_hour"] == 30.0 and "streaming" not in read_checkpoint_metadata(ckpt, ValueError)
    assert stored["validation"]["input"] == f"{tmp_path.name}/s.wav"  # no machine path inside the model
    report = evaluate(compose_config("eval", ["mode=stream", f"checkpoint={tmp_path / 'cal.safetensors'}"] + common,
                                     tmp_path / "ev"))
    assert report["settings"]["threshold"] == stored["settings"]["threshold"]
    sweep = json.loads((tmp_path / "ev" / "sweep.json").read_text())
    assert len(sweep["rows"]) > 10 and (tmp_path / "ev" / "detection_curve.png").stat().st_size > 1000
    assert (tmp_path / "ev" / "sweep.csv").read_text().startswith("threshold,correct_pct")
    for bad, message in (("onnx=" + str(tmp_path / "none.onnx"), "beside it"), ("output=x.pt", "safetensors")):
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            evaluate(compose_config("eval", ["mode=calibrate", f"checkpoint={ckpt}", bad] + common, tmp_path / "e"))


def _run(smoother, seq, hop=100):
    return [(d.time_ms, d.label, round(d.score, 3)) for i, p in enumerate(seq) if (d := smoother.update(i * hop, p))]


def test_peak_detector_reports_the_stronger_class_at_its_peak():
    def p(**kw):
        v = np.array([kw.get(k, 0.0) for k in ("s", "u", "yes", "no")])
        return v / v.sum()

    seq = [p(s=1)] * 3 + [p(yes=0.6, s=0.4), p(no=0.8, s=0.2), p(no=0.9, s=0.1), p(no=0.7, s=0.3)] + [p(s=1)] * 5
    rc = PosteriorSmoother(LABELS, SmoothingConfig(average_window_ms=0, threshold=0.5, suppression_ms=1000))
    assert _run(rc, seq) == [(300, "yes", 0.6)]  # the first crossing wins
    peak = PosteriorSmoother(LABELS, SmoothingConfig(average_window_ms=0, threshold=0.5, suppression_ms=1000,
                                                     detector="peak"))
    assert _run(peak, seq) == [(600, "no", 0.9)]
    unknown_wins = [p(s=1), p(yes=0.6, s=0.4), p(u=0.9, s=0.1), p(s=1)]
    peak.reset()
    assert _run(peak, unknown_wins) == []


def test_margin_class_thresholds_and_max_pool():
    seq = [np.array([0.0, 0.45, 0.55, 0.0])] * 3
    cfg = SmoothingConfig(average_window_ms=0, threshold=0.5, suppression_ms=0)
    assert len(_run(PosteriorSmoother(LABELS, cfg), seq)) == 1
    assert _run(PosteriorSmoother(LABELS, SmoothingConfig(average_window_ms=0, threshold=0.5, margin=0.2)), seq) == []
    per_class = SmoothingConfig(average_window_ms=0, threshold=0.5, class_thresholds=(("yes", 0.6),))
    assert _run(PosteriorSmoother(LABELS, per_class), seq) == []
    with pytest.raises(ValueError, match="does not predict"):
        PosteriorSmoother(LABELS, SmoothingConfig(class_thresholds=(("maybe", 0.5),)))
    blip = [np.array([1.0, 0, 0, 0])] * 2 + [np.array([0.1, 0, 0.9, 0])] + [np.array([1.0, 0, 0, 0])] * 3
    mean = SmoothingConfig(average_window_ms=300, threshold=0.5, suppression_ms=0)
    assert _run(PosteriorSmoother(LABELS, mean), blip) == []  # averaged away
    pooled = SmoothingConfig(average_window_ms=300, threshold=0.5, suppression_ms=0, detector="max_pool")
    assert [d[1] for d in _run(PosteriorSmoother(LABELS, pooled), blip)] == ["yes"]


def test_noise_recipes():
    rng = np.random.default_rng(0)
    quiet = (0.02 * np.sin(np.arange(16000 * 12) / 5)).astype(np.float32)
    waves = {"a": quiet, "b": 10 * quiet}
    tf = background(["a", "b"], 16000 * 60, rng, waves.get, "tf", 0.1)
    loud = background(["a", "b"], 16000 * 60, np.random.default_rng(0), waves.get, "loud", 0.1)
    assert np.abs(tf).max() <= 0.1 * 0.2 + 1e-6 and np.abs(loud).max() <= 0.1 + 1e-6
    assert np.abs(loud).max() > 0.05 and np.abs(loud).max() > 2 * np.abs(tf).max()
    snr = background(["a"], 16000 * 30, rng, waves.get, "snr")
    assert np.sqrt(np.mean(snr ** 2)) == pytest.approx(1.0, rel=0.01)
    env = noise_gain_envelope(10, [2, 6], [1.0, 3.0])
    assert env.tolist() == [1, 1, 1, 1, 3, 3, 3, 3, 3, 3]
    with pytest.raises(ValueError, match="choose one of"):
        background(["a"], 10, rng, waves.get, "quiet")


def test_build_stream_recipes_keep_the_words(synthetic_root):
    from speechseq.streaming.synth_stream import build_stream, speech_rms

    label_set = LabelSet(COMMANDS_10)
    streams = {r: build_stream(synthetic_root, "test", label_set, 30, seed=1, noise=r, snr_db=(10, 10))
               for r in ("tf", "loud", "snr")}
    assert streams["tf"][1] == streams["loud"][1] == streams["snr"][1]
    wave, words = streams["snr"]
    clean, _ = build_stream(synthetic_root, "test", label_set, 30, seed=1, noise="snr", snr_db=(200, 200))
    w = words[len(words) // 2]
    start = int(w.start_ms * 16)
    noise = (wave - clean)[start + 16000:start + 24000]  # the gap after the word: noise alone
    snr_db = 20 * np.log10(speech_rms(clean[start:start + 16000]) / np.sqrt(np.mean(noise ** 2)))
    assert snr_db == pytest.approx(10, abs=1.0)


@pytest.mark.parametrize("detector", ["peak", "max_pool"])
def test_new_detectors_do_not_depend_on_block_cutting(detector):
    wave, _ = tone_stream(["high", "low", "high", "low"], gap_s=1.7, seed=2)
    settings = StreamSettings(smoothing=SmoothingConfig(detector=detector, average_window_ms=300, threshold=0.6,
                                                        suppression_ms=800))

    def detect(block_sizes):
        rec, out, i = StreamingRecognizer(ToneClassifier(), settings), [], 0
        for n in block_sizes:
            out += rec.feed(wave[i:i + n])
            i += n
        return out + rec.feed(wave[i:])

    reference = detect([])
    assert [d.label for d in reference] == ["high", "low", "high", "low"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        assert detect(rng.integers(1, 9000, 60).tolist()) == reference


def test_per_class_thresholds_over_budget_on_a_half_are_refused_and_the_record_is_strict_json():
    """First half: weak 'yes' words and 'no' bursts at 0.76 (a per-class 'yes' threshold helps); second
    half: 'yes' bursts at 0.77 on no word, so that threshold brings false alarms there."""
    seconds = 400
    times, probs, burst = _silence_posteriors(seconds)
    truth = []
    for i, t in enumerate(np.arange(2000.0, 195000.0, 3000.0)):
        burst(t, 2, 0.88 if i % 2 == 0 else 0.78)
        truth.append(("yes", t))
        burst(t + 1500, 3, 0.76)
    for t in np.arange(202000.0, 395000.0, 3000.0):
        burst(t, 2, 0.88)
        truth.append(("yes", t))
        burst(t + 1500, 2, 0.77)
    track = PosteriorTrack(times, probs, LABELS, truth, seconds)
    record = calibrate(track, 0.0, [SmoothingConfig(average_window_ms=0, suppression_ms=500)],
                       (0.7, 0.75, 0.8, 0.85, 0.9))
    gains = record["per_class"]["held_out_gains_pct"]
    assert gains[0] is None and not record["per_class"]["used"] and record["settings"]["class_thresholds"] == {}
    json.dumps(record, allow_nan=False)  # browsers' JSON.parse refuses -Infinity

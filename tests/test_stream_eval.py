"""Streaming accuracy: test streams, scoring, the batched replay, speechseq-eval mode=stream."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechseq.labels import COMMANDS_10, LabelSet
from speechseq.streaming.offline import replay, window_posteriors
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
from speechseq.streaming.scoring import score_detections
from speechseq.streaming.smoothing import Detection, SmoothingConfig
from speechseq.streaming.synth_stream import read_labels, speech_end_ms
from tests.conftest import REPO, compose_config
from tests.streaming_helpers import ToneClassifier, tone_stream


def test_score_counts_correct_wrong_missed_and_false_alarms():
    truth = [("yes", 1000), ("_unknown_", 4000), ("no", 7000), ("up", 10000), ("go", 13000)]
    dets = [Detection(1800, "yes", 0.9), Detection(2300, "yes", 0.8),      # correct + a repeat
            Detection(4700, "left", 0.9),                                  # on an unknown word
            Detection(7900, "up", 0.9),                                    # wrong
            Detection(12500, "go", 0.9),                                   # before its word: no word
            Detection(13600, "_silence_", 0.9),                            # never counted
            Detection(14000, "go", 0.9)]                                   # correct
    r = score_detections(dets, truth, set(COMMANDS_10), duration_s=1800)
    assert (r["command_words"], r["correct"], r["wrong"], r["missed"]) == (4, 2, 1, 1)
    assert r["correct_pct"] == 50 and r["wrong_pct"] == 25 and r["missed_pct"] == 25
    assert r["false_alarms_breakdown"] == {"unknown_word": 1, "no_word": 1, "repeat": 1}
    assert r["false_alarms_per_hour"] == pytest.approx(6.0)
    assert r["median_latency_ms"] == pytest.approx(900.0)  # (800 + 1000) / 2
    assert r["confusions"] == {"no": {"up": 1}}


def test_batched_replay_equals_the_live_loop():
    wave, _ = tone_stream(["low", "high", "high", "low"], gap_s=1.8)
    cfg = SmoothingConfig(average_window_ms=300, threshold=0.6, suppression_ms=800, minimum_count=2)
    for hop in (30.0, 100.0):
        live = StreamingRecognizer(ToneClassifier(), StreamSettings(hop_ms=hop, smoothing=cfg)).feed(wave)
        times, probs = window_posteriors(ToneClassifier(), wave, hop, batch_size=7)
        assert replay(times, probs, ToneClassifier.labels, cfg) == live and len(live) == 4


def test_speech_end_is_found_from_energy():
    clip = np.zeros(16000, np.float32)
    clip[3200:9600] = 0.3
    assert speech_end_ms(clip) == 600.0


def test_make_stream_wav_script(synthetic_root, tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "make_stream_wav.py"), str(synthetic_root),
                          "--split", "test", "--seconds", "40", "--out", str(tmp_path), "--seed", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wave, sr = sf.read(tmp_path / "stream.wav")
    assert sr == 16000 and len(wave) == 40 * 16000
    labels = read_labels(tmp_path / "labels.csv")
    assert (tmp_path / "labels.csv").read_text().startswith("label,start_ms\n")
    assert 11 <= len(labels) <= 13  # one word every ~3 s
    starts = [t for _, t in labels]
    assert all(2000 < b - a < 4000 for a, b in zip(starts, starts[1:]))
    assert {lab for lab, _ in labels} <= set(COMMANDS_10) | {"_unknown_"}
    words = (tmp_path / "words.csv").read_text().splitlines()[1:]
    for row in words:  # the unknown ones come from the filler words
        label, _, _, word, _ = row.split(",")
        assert (label == "_unknown_") == (word not in COMMANDS_10)
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "make_stream_wav.py"), str(tmp_path / "nope"),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_eval_mode_stream_writes_a_report(tmp_path):

    from speechseq.deploy.checkpoint import save_inference
    from speechseq.evaluation.evaluate import evaluate
    from speechseq.features.logmel import FrontendSpec
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

    labels = LabelSet(COMMANDS_10).names
    save_inference(tmp_path / "m.safetensors", RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=8,
                                                                             num_layers=1)), labels, FrontendSpec())
    wave, starts = tone_stream(["low", "high"])
    sf.write(tmp_path / "s.wav", wave, 16000)
    (tmp_path / "labels.csv").write_text("label,start_ms\n" + "".join(f"yes,{t}\n" for _, t in starts))
    cfg = compose_config("eval", ["mode=stream", f"checkpoint={tmp_path / 'm.safetensors'}",
                                  f"input={tmp_path / 's.wav'}", f"labels={tmp_path / 'labels.csv'}",
                                  "stream.threshold=0.99"], tmp_path / "out")
    report = evaluate(cfg)
    saved = json.loads((tmp_path / "out" / "stream_report.json").read_text())
    assert saved["command_words"] == 2 and saved["correct"] + saved["wrong"] + saved["missed"] == 2
    assert saved["settings"]["threshold"] == 0.99 and report["duration_s"] == pytest.approx(len(wave) / 16000)
    assert (tmp_path / "out" / "detections.csv").read_text().startswith("time_ms,label,score")
    with pytest.raises(ValueError, match="input=STREAM.wav"):
        evaluate(compose_config("eval", ["mode=stream", "checkpoint=x"], tmp_path / "o2"))

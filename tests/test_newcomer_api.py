"""Issue 33, the Python API: what a new user trips over (each of these failed on 462e0e8).

The last word of an input, digital silence, errors in the standard classes, one rule for audio from
arrays and files, and what the API says about itself (py.typed, info, detections). The shipped model
runs on numpy; the loop's own behaviour uses the tone classifier of tests/streaming_helpers.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechseq import KeywordDetection, Recognizer
from speechseq.streaming.recognizer import StreamSettings
from speechseq.streaming.smoothing import SmoothingConfig
from speechseq.streaming.sources import WavFileSource
from speechseq.streaming.stream_cmd import run_stream
from tests.conftest import REPO
from tests.test_api import command_stream, needs_mini
from tests.streaming_helpers import SR, ToneClassifier, compose_app, tone_stream

FRAME = 1280


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return Recognizer.load(runtime="numpy")


def tone_recognizer(**knobs) -> Recognizer:
    return Recognizer(ToneClassifier(), StreamSettings(**knobs))


def ends_with_a_word(words=("low", "high")) -> tuple[np.ndarray, list]:
    """Tones over faint noise, cut just after the last tone's end: nothing follows the last word.
    (1.05 s tones: the tone classifier averages its window, so it needs the tone to fill most of it.)"""
    wave, starts = tone_stream(list(words), word_s=1.05)
    end = int(starts[-1][1] * SR / 1000) + int(1.05 * SR)
    return wave[:end], starts


def feed(recognizer: Recognizer, audio: np.ndarray) -> list[KeywordDetection]:
    return [d for i in range(0, len(audio), FRAME) for d in recognizer.process(audio[i:i + FRAME])]


# --- 1. the last word of an input ----------------------------------------------------------------------

def test_flush_reports_the_word_at_the_very_end_as_more_audio_would():
    wave, _ = ends_with_a_word()
    r = tone_recognizer()
    assert [d.label for d in feed(r, wave)] == ["low"]  # the last word needs the audio after it...
    last = r.flush()                                      # ...which the end of the input now stands for
    assert [d.label for d in last] == ["high"]
    followed = tone_recognizer()
    heard = feed(followed, np.concatenate([wave, np.random.default_rng(1).normal(0, 0.003, SR).astype(np.float32)]))
    assert [d.label for d in heard] == ["low", "high"] and abs(heard[1].time_s - last[0].time_s) <= 0.3
    assert r.flush() == [] and r.stream.samples_seen == len(wave)  # once; the zeros are not input


@needs_mini
def test_on_speech_the_flushed_last_word_scores_as_it_does_with_audio_after_it(shipped):
    pcm, _ = command_stream(("yes", "stop"))
    end = len(pcm) - int(1.5 * SR)  # the stream cut where the last clip ends
    shipped.reset()
    flushed = feed(shipped, pcm[:end]) + shipped.flush()
    shipped.reset()
    followed = feed(shipped, pcm)
    assert [d.label for d in flushed] == [d.label for d in followed] == ["yes", "stop"]
    assert abs(flushed[-1].time_s - followed[-1].time_s) <= 0.1 and abs(flushed[-1].score - followed[-1].score) < 0.05
    shipped.reset()


def test_process_final_is_process_then_flush_and_the_next_frame_starts_a_new_stream():
    wave, _ = ends_with_a_word()
    r = tone_recognizer()
    heard = feed(r, wave[:-FRAME]) + r.process(wave[-FRAME:], final=True)
    assert [d.label for d in heard] == ["low", "high"]
    again = feed(r, wave) + r.flush()  # no reset() needed: a new stream, its times from 0 again
    assert [(d.label, d.time_s) for d in again] == [(d.label, d.time_s) for d in heard]


def test_a_speechseq_stream_file_and_a_listened_file_report_their_last_word(tmp_path):
    wave, _ = ends_with_a_word()
    sf.write(tmp_path / "end.wav", wave, SR, subtype="PCM_16")
    out = tmp_path / "d.csv"
    run_stream(compose_app("stream", [f"input={tmp_path / 'end.wav'}", f"output={out}"]), classifier=ToneClassifier(),
               stderr=open(os.devnull, "w"))
    assert [row.split(",")[1] for row in out.read_text().splitlines()[1:]] == ["low", "high"]
    heard = []
    with tone_recognizer().listen(heard.append, source=WavFileSource(tmp_path / "end.wav")) as listening:
        assert listening.wait(60)
    assert [d.label for d in heard] == ["low", "high"]


# --- 2. digital silence ----------------------------------------------------------------------------------

def test_digital_silence_is_silence_for_classify_and_the_live_scores(shipped):
    assert shipped.classify(np.zeros(16000, np.int16)).label == "_silence_"
    dither = np.random.default_rng(0).integers(-1, 2, 16000).astype(np.int16)  # one bit of dither
    assert shipped.classify(dither).label == "_silence_"
    shipped.reset()
    for _ in range(25):  # 2 s of a muted microphone
        assert shipped.process(np.zeros(FRAME, np.int16)) == []
    scores = shipped.latest_scores
    assert max(scores, key=scores.get) == "_silence_"
    shipped.reset()


def test_the_gate_is_what_does_it_and_can_be_turned_off():
    raw = Recognizer.load(runtime="numpy", silence_gate_dbfs=float("-inf"))
    assert raw.classify(np.zeros(16000, np.int16)).label == "_unknown_"  # the model alone: why the gate exists
    with pytest.raises(ValueError, match="silence_gate_dbfs"):
        Recognizer.load(runtime="numpy", silence_gate_dbfs=3.0)


def test_the_gate_reads_the_level_of_the_window_and_the_offline_replay_gates_the_same_windows():
    from speechseq.features.numpy_logmel import log_mel
    from speechseq.features.spec import FrontendSpec
    from speechseq.streaming.offline import window_posteriors
    from speechseq.streaming.silence import window_level_dbfs

    rng = np.random.default_rng(0)
    for dbfs in (-90.0, -60.0, -30.0):
        noise = rng.normal(0, 10 ** (dbfs / 20), SR)
        assert abs(float(window_level_dbfs(log_mel(noise), FrontendSpec())) - dbfs) < 0.5
    wave, _ = tone_stream(["low"])
    wave[int(2.5 * SR):int(5 * SR)] = 0.0  # the microphone muted for 2.5 s
    r = tone_recognizer()
    live, update = [], r.stream.smoother.update
    r.stream.smoother.update = lambda time_ms, probs: (live.append(np.array(probs)), update(time_ms, probs))[1]
    feed(r, wave)
    _, offline = window_posteriors(ToneClassifier(), wave, 100.0)
    np.testing.assert_allclose(offline, np.stack(live), atol=1e-6)
    assert (offline[:, 0] == 1.0).sum() >= 10  # the muted stretch: certain silence


def test_training_makes_a_share_of_the_silence_clips_digital(monkeypatch):
    import torch

    from speechseq.augment import transforms
    from speechseq.augment.transforms import WaveAugment, WaveAugmentConfig
    from speechseq.data.splits import NoiseBank

    noise = NoiseBank(torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (4, SR)).astype(np.float32)))
    waves = noise.segments[torch.arange(400) % 4].clone()
    labels = torch.zeros(400, dtype=torch.long)  # all _silence_
    labels[:100] = 2  # and a hundred words
    config = WaveAugmentConfig(silence_dbfs=(-75.0, -5.0), noise_prob=0.0, time_shift_ms=0.0)

    def run():
        aug = WaveAugment(noise, SR, config, silence_label=0, unknown_label=1)
        return aug(waves.clone(), labels.clone(), torch.Generator().manual_seed(0))[0]

    out = run()
    peak = out.abs().amax(dim=1)
    zeros, dither = (peak == 0)[100:], ((peak > 0) & (peak <= 1 / 32768 + 1e-9))[100:]
    assert zeros.sum() >= 5 and dither.sum() >= 5 and 0.05 <= (zeros | dither).float().mean() <= 0.15
    monkeypatch.setattr(transforms, "DIGITAL_SILENCE_SHARE", 0.0)
    before = run()  # the recipe without digital silence: every other clip as it was
    digital = torch.cat([torch.zeros(100, dtype=torch.bool), zeros | dither])
    assert torch.equal(out[~digital], before[~digital]) and (before[digital].abs().amax(dim=1) > 1e-4).all()


# --- 3. errors in the standard classes -----------------------------------------------------------------

def test_a_missing_file_is_file_not_found_and_an_array_is_a_type_error(shipped, tmp_path):
    with pytest.raises(FileNotFoundError) as missing:
        shipped.classify_file(tmp_path / "nope" / "missing.wav")
    assert str(missing.value) == f"{tmp_path / 'nope' / 'missing.wav'}: no such file"
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(OSError, match="cannot decode audio"):
        shipped.classify_file(tmp_path / "text.wav")
    with pytest.raises(TypeError, match=r"classify\(audio, sample_rate\)"):
        shipped.classify_file(np.zeros(16000, np.int16))


def test_load_says_when_a_folder_holds_no_model(tmp_path):
    (tmp_path / "empty").mkdir()
    for runtime in ("auto", "numpy", "onnx"):
        with pytest.raises(FileNotFoundError, match="folder without"):
            Recognizer.load(tmp_path / "empty", runtime=runtime)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Recognizer.load(tmp_path / "missing.safetensors", runtime="numpy")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.safetensors"):
        Recognizer.load(tmp_path / "junk.safetensors", runtime="numpy")
    with pytest.raises(TypeError, match="checkpoint"):
        Recognizer.load(123)


# --- 6. one rule for audio, arrays and files alike ------------------------------------------------------

def _float_wav(path, peak=None, nan=False):
    wave, _ = tone_stream(["low"])
    if peak is not None:
        wave[100] = peak
    if nan:
        wave[100] = np.nan
    sf.write(path, wave, SR, subtype="FLOAT")
    return wave


@pytest.mark.parametrize("case,fragment", [("loud", "reaching 2.2"), ("nan", "NaN")])
def test_the_api_and_speechseq_stream_refuse_the_same_file_in_the_same_words(shipped, tmp_path, capsys, case, fragment):
    path = tmp_path / f"{case}.wav"
    wave = _float_wav(path, peak=2.2 if case == "loud" else None, nan=case == "nan")
    with pytest.raises(ValueError, match=fragment) as as_array:
        shipped.classify(wave)
    with pytest.raises(ValueError, match=fragment) as as_file:
        shipped.classify_file(path)
    with pytest.raises(ValueError, match=fragment) as streamed:
        run_stream(compose_app("stream", [f"input={path}"]), classifier=ToneClassifier(), stderr=open(os.devnull, "w"))
    reason = str(as_array.value).split(": ", 1)[1]
    assert str(as_file.value) == f"{path}: {reason}" and str(streamed.value) == f"{path}: {reason}"
    assert capsys.readouterr().out == ""  # refused before the CSV header


def test_floats_just_past_full_scale_are_clipped_alike_in_arrays_files_and_streams(shipped, tmp_path):
    wave = np.clip(tone_stream(["low"])[0][:int(2.4 * SR)] * 5, -1.5, 1.5)  # a hot recording, peaking at 1.5
    sf.write(tmp_path / "hot.wav", wave, SR, subtype="FLOAT")
    clipped = np.clip(wave, -1, 1)
    assert shipped.classify_file(tmp_path / "hot.wav").scores == pytest.approx(shipped.classify(clipped).scores, abs=1e-6)
    assert shipped.classify(wave).scores == pytest.approx(shipped.classify(clipped).scores, abs=1e-6)
    latest = []
    for audio in (wave, clipped):
        shipped.reset()
        feed(shipped, audio)
        latest.append(shipped.latest_scores)
    assert latest[0] == pytest.approx(latest[1], abs=1e-6)
    shipped.reset()


def test_a_list_of_ints_is_int16_pcm_and_bytes_get_a_hint(shipped):
    pcm = (np.random.default_rng(0).normal(0, 300, SR)).astype(np.int16)
    assert shipped.classify(pcm.tolist()).scores == pytest.approx(shipped.classify(pcm).scores, abs=1e-6)
    with pytest.raises(ValueError, match="int16"):
        shipped.classify([0, 70000, 1] * 400)
    with pytest.raises(TypeError, match=r"np\.frombuffer\(data, np\.int16\)"):
        shipped.classify(pcm.tobytes())


# --- 8. what the API says about itself -----------------------------------------------------------------

def test_info_is_the_same_on_every_runtime():
    infos = {rt: Recognizer.load(runtime=rt).info for rt in ("numpy", "onnx", "torch")}
    assert infos["numpy"] == infos["onnx"] == infos["torch"]
    info = infos["numpy"]
    assert info.name == "kws12_mini" and info.version == "0.1.0" and info.labels[:2] == ("_silence_", "_unknown_")
    assert info.data == {"name": "speech_commands_mini", "task": "v2_12"}
    assert info.detector["settings"]["threshold"] == 0.625 and info.detector["max_false_alarms_per_hour"] == 30.0
    assert "/" not in str(info.data)


def test_a_detection_says_where_the_word_is_and_every_score_then():
    wave, starts = tone_stream(["low", "high", "low"])
    for detection, (word, start_ms) in zip(feed(tone_recognizer(), wave), starts, strict=True):
        assert detection.label == word and detection.start_s < detection.end_s <= detection.time_s
        assert detection.start_s < start_ms / 1000 + 0.8 and detection.end_s > start_ms / 1000  # overlaps the tone
        assert detection.scores[word] == detection.score and sum(detection.scores.values()) == pytest.approx(1.0)
    peak = feed(tone_recognizer(smoothing=SmoothingConfig(detector="peak")), wave)
    assert all(p.score >= d.score for p, d in zip(peak, feed(tone_recognizer(), wave)))  # peak reports the highest


def test_thresholds_for_silence_or_unknown_are_refused():
    with pytest.raises(ValueError, match="_silence_ is never reported"):
        Recognizer.load(runtime="numpy", class_thresholds={"_silence_": 0.5})


def test_the_commands_default_to_runtime_auto_as_the_docs_say():
    for app in ("stream", "listen", "serve"):
        assert compose_app(app, []).runtime == "auto"


def test_the_package_is_typed():
    assert (REPO / "speechseq" / "py.typed").is_file() and '"py.typed"' in (REPO / "pyproject.toml").read_text()
    for method, name in ((Recognizer.process, "frame"), (Recognizer.classify, "audio")):
        assert inspect.signature(method).parameters[name].annotation is not inspect.Parameter.empty


@pytest.mark.slow
def test_mypy_passes_on_the_examples_and_catches_a_misuse(tmp_path):
    pytest.importorskip("mypy")
    misuse = tmp_path / "misuse.py"
    misuse.write_text("from speechseq import Recognizer\nRecognizer.load().classify_file(123)\n")
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
                          "--cache-dir", str(tmp_path / "cache"), str(REPO / "examples"), str(misuse)],
                         capture_output=True, text=True, cwd=REPO, timeout=600, env={**os.environ, "MYPYPATH": str(REPO)})
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "misuse.py:2" in errors[0] and '"classify_file"' in errors[0], out.stdout

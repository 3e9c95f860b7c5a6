"""speechseq-record: the kept second, refused takes, numbering across sessions, names, the file
format, Ctrl-C, no microphone; and one session on the virtual microphone (marked mic, slow)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from speechseq.streaming import sources
from speechseq.streaming.record import (
    RecordError,
    RecordPlan,
    check_words,
    keep_word,
    kept_start,
    record_session,
    write_take,
)
from speechseq.streaming.record_cmd import main, run_record
from tests.conftest import REPO
from tests.console import assert_one_error_line, run_main
from tests.streaming_helpers import compose_app

SR = 16000
MINI = REPO.parent / "shared" / "data" / "speech_commands_mini"


def take(burst_at: float | None = None, burst_s: float = 0.4, amplitude: float = 0.3, seconds: float = 2.0,
         noise: float = 0.003, seed: int = 0) -> np.ndarray:
    """`seconds` of faint noise with a 440 Hz burst starting at `burst_at` (none if None)."""
    rng = np.random.default_rng(seed)
    wave = rng.normal(0, noise, int(seconds * SR))
    if burst_at is not None:
        start, n = int(burst_at * SR), int(burst_s * SR)
        wave[start:start + n] += amplitude * np.sin(2 * np.pi * 440 * np.arange(n) / SR)
    return wave.astype(np.float32)


class ScriptedMic:
    """Plays the takes one after another in 50 ms blocks, then ends (or raises `end`)."""

    device_name = "scripted"

    def __init__(self, waves, end: BaseException | None = None):
        self.wave = np.concatenate(waves) if waves else np.zeros(0, np.float32)
        self.end = end
        self.closed = False

    def __iter__(self):
        for i in range(0, len(self.wave), 800):
            yield self.wave[i:i + 800]
        if self.end is not None:
            raise self.end

    def close(self):
        self.closed = True


class Log:
    """A view that remembers what the speaker would have seen."""

    def __init__(self):
        self.events = []

    def prompt(self, word, take, takes, attempt):
        self.events.append(("prompt", word, take, attempt))

    def level(self, block):
        pass

    def kept(self, path, clip):
        self.events.append(("kept", path.name))

    def refused(self, problem, again):
        self.events.append(("refused", problem.split(" ")[0]))


def config(out: Path, *overrides: str):
    return compose_app("record", [f"out={out}", "pause=0", *overrides])


# --- the kept second ---

@pytest.mark.parametrize("burst_at", [0.05, 0.25, 0.8, 1.3, 1.55])
def test_the_kept_second_holds_the_whole_burst(burst_at):
    wave = take(burst_at)
    start = kept_start(wave)
    burst_start, burst_end = int(burst_at * SR), int((burst_at + 0.4) * SR)
    assert start <= burst_start and burst_end <= start + SR, (start, burst_start, burst_end)
    clip = keep_word(wave)
    assert clip.shape == (SR,) and np.sum(clip ** 2) > 0.99 * np.sum(wave ** 2) - 0.003 ** 2 * SR


def test_a_short_word_sits_in_the_middle_of_its_second():
    start = kept_start(take(0.8))  # burst 0.8-1.2 s: centred, the second is 0.5-1.5 s
    assert abs(start - int(0.5 * SR)) < 0.05 * SR, start / SR


# --- refused takes ---

@pytest.mark.parametrize("bad, reason", [
    (take(0.5, amplitude=1.2), "clipped"),
    (np.zeros(2 * SR, np.float32), "too"),               # a dead microphone: too quiet
    (take(None, noise=0.02), "no"),                      # only noise, loud enough: no word above it
])
def test_a_clipped_or_silent_take_is_refused_and_asked_again(tmp_path, bad, reason):
    log, written = Log(), []
    done = record_session(RecordPlan(["yes"], takes=1, pause=0), ScriptedMic([bad, take(0.6)]), tmp_path, "spk",
                          log, written)
    assert done and [p.name for p in written] == ["spk_nohash_0.wav"]
    assert log.events == [("prompt", "yes", 1, 0), ("refused", reason), ("prompt", "yes", 1, 1),
                          ("kept", "spk_nohash_0.wav")]


def test_too_many_refusals_stop_with_one_clear_error_keeping_the_takes_written(tmp_path):
    silent = np.zeros(2 * SR, np.float32)
    cfg = config(tmp_path, "words=[yes]", "takes=3", "retries=2", "speaker=spk")
    err = io.StringIO()
    with pytest.raises(RecordError, match=r"take 2/3 of 'yes' refused 3 times, last: too quiet.*device="):
        run_record(cfg, source=ScriptedMic([take(0.5), silent, silent, silent]), stdout=io.StringIO(), stderr=err)
    assert sorted(p.name for p in (tmp_path / "yes").iterdir()) == ["spk_nohash_0.wav"]
    assert "1 take(s) written" in err.getvalue()


# --- numbering and files ---

def test_numbering_continues_across_sessions_and_never_overwrites(tmp_path):
    cfg = config(tmp_path, "words=[lights_on,lights_off]", "takes=2")
    first = run_record(cfg, source=ScriptedMic([take(0.5, seed=i) for i in range(4)]),
                       stdout=io.StringIO(), stderr=io.StringIO())
    speaker = (tmp_path / ".speaker").read_text().strip()
    assert len(speaker) == 8 and int(speaker, 16) >= 0
    assert [p.relative_to(tmp_path).as_posix() for p in first] == [
        f"lights_on/{speaker}_nohash_0.wav", f"lights_on/{speaker}_nohash_1.wav",
        f"lights_off/{speaker}_nohash_0.wav", f"lights_off/{speaker}_nohash_1.wav"]
    kept = (tmp_path / "lights_on" / f"{speaker}_nohash_1.wav").read_bytes()
    (tmp_path / "lights_off" / f"{speaker}_nohash_5.wav").write_bytes(b"not mine to touch")
    (tmp_path / "lights_off" / "other_nohash_9.wav").write_bytes(b"another speaker")
    second = run_record(cfg, source=ScriptedMic([take(0.7, seed=10 + i) for i in range(4)]),
                        stdout=io.StringIO(), stderr=io.StringIO())
    assert [p.name for p in second] == [f"{speaker}_nohash_{n}.wav" for n in (2, 3, 6, 7)]
    assert (tmp_path / "lights_on" / f"{speaker}_nohash_1.wav").read_bytes() == kept
    assert (tmp_path / "lights_off" / f"{speaker}_nohash_5.wav").read_bytes() == b"not mine to touch"


def test_a_name_taken_meanwhile_is_skipped_not_replaced(tmp_path, monkeypatch):
    from speechseq.streaming import record

    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "spk_nohash_0.wav").write_bytes(b"written by another session")
    monkeypatch.setattr(record, "next_take_number", lambda folder, speaker: 0)  # as if it looked just before
    path = write_take(tmp_path, "yes", "spk", take(0.5)[:SR])
    assert path.name == "spk_nohash_1.wav"
    assert (tmp_path / "yes" / "spk_nohash_0.wav").read_bytes() == b"written by another session"


def test_takes_are_one_second_16k_mono_16_bit_and_hold_the_word(tmp_path):
    cfg = config(tmp_path, "words=[yes]", "takes=1", "speaker=alice")
    [path] = run_record(cfg, source=ScriptedMic([take(1.2)]), stdout=io.StringIO(), stderr=io.StringIO())
    assert path == tmp_path / "yes" / "alice_nohash_0.wav"
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype, info.frames, info.format) == (16000, 1, "PCM_16", SR, "WAV")
    data, _ = sf.read(str(path), dtype="int16")
    assert 0.25 * 32767 < np.abs(data).max() < 0.35 * 32767  # the burst, at its level
    assert not (tmp_path / ".speaker").exists()  # speaker= given: nothing stored


# --- names, keys, no microphone (through the console script's main) ---

@pytest.mark.parametrize("words, fragment", [
    ("[lights_on,_silence_]", "_silence_ is reserved"),
    ("[_unknown_]", "_unknown_ is reserved"),
    ("[_background_noise_]", "_background_noise_ is reserved"),
    ("[a/b]", "'a/b' is not a usable folder name"),
    ("[.hidden]", "'.hidden' is not a usable folder name"),
    ("[yes,yes]", "yes is listed twice"),
    ("[]", "words is empty"),
])
def test_a_bad_word_name_is_one_line(tmp_path, monkeypatch, capsys, words, fragment):
    code, out, err = run_main(main, "speechseq-record", [f"words={words}", f"out={tmp_path / 'd'}"], tmp_path,
                              monkeypatch, capsys)
    assert code == 2 and out == ""
    assert_one_error_line(err, "speechseq-record", fragment)
    assert not (tmp_path / "d").exists()


def test_good_word_names_pass():
    assert check_words(["lights_on", "Licht-an", "zwei.1", "café", 7]) == ["lights_on", "Licht-an", "zwei.1",
                                                                         "café", "7"]


def test_no_microphone_is_the_sources_one_line(tmp_path, monkeypatch, capsys):
    def query_devices(device=None, kind=None):
        return [{"name": "hdmi", "max_input_channels": 0}]

    fake_sd = SimpleNamespace(query_devices=query_devices, PortAudioError=OSError)
    monkeypatch.setattr(sources, "import_sounddevice", lambda: fake_sd)
    code, out, err = run_main(main, "speechseq-record", ["words=[yes]", f"out={tmp_path / 'd'}"], tmp_path,
                              monkeypatch, capsys)
    assert code == 2 and out == ""
    assert_one_error_line(err, "speechseq-record", "no audio input device found")
    assert not (tmp_path / "d").exists()


# --- Ctrl-C and the level meter ---

def test_ctrl_c_stops_cleanly_keeping_the_takes_written(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    half = take(0.5)[:SR]  # Ctrl-C in the middle of the third take: nothing of it is written
    mic = ScriptedMic([take(0.5), take(0.6), half], end=KeyboardInterrupt())
    written = run_record(config(tmp_path, "words=[yes]", "takes=5", "speaker=s"), source=mic, stdout=out, stderr=err)
    assert [p.name for p in written] == ["s_nohash_0.wav", "s_nohash_1.wav"] and mic.closed
    assert sorted(p.name for p in (tmp_path / "yes").iterdir()) == ["s_nohash_0.wav", "s_nohash_1.wav"]
    assert "2 take(s) written" in err.getvalue() and "stopped early" in err.getvalue()
    assert out.getvalue().count("say 'yes'") == 3


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream, meter", [(Terminal(), True), (io.StringIO(), False)])
def test_a_level_meter_on_a_terminal_plain_lines_off_it(tmp_path, stream, meter):
    run_record(config(tmp_path, "words=[yes]", "takes=1", "speaker=s"), source=ScriptedMic([take(0.5)]),
               stdout=stream, stderr=io.StringIO())
    text = stream.getvalue()
    assert ("\r  [####" in text and "dBFS" in text.split("kept")[0]) == meter
    lines = [line.split("\r")[-1] for line in text.rstrip("\n").split("\n")]  # what a terminal shows
    assert lines == ["say 'yes' (take 1/1)", "  kept yes/s_nohash_0.wav (peak -10 dBFS)"]


# --- the real sounddevice path, on a virtual microphone ---

def spoken_word_wav(path: Path, word: str) -> Path:
    """A clip of `word` from the mini set, loudest first, between 0.2 s of silence either side."""
    clips = sorted((MINI / word).glob("*.wav"))
    if not clips:
        pytest.skip(f"no clips of {word!r} under {MINI}")
    waves = [sf.read(str(c), dtype="float32")[0] for c in clips[:20]]
    wave = max(waves, key=lambda w: np.abs(w).max())
    wave = wave * (0.5 / np.abs(wave).max())
    sf.write(str(path), np.concatenate([np.zeros(SR // 5), wave, np.zeros(SR // 5)]), SR, subtype="PCM_16")
    return path


@pytest.mark.mic
@pytest.mark.slow
def test_record_writes_the_takes_spoken_into_the_virtual_microphone(vmic, tmp_path):
    wavs = {w: spoken_word_wav(tmp_path / f"{w}.wav", w) for w in ("yes", "no")}
    out = tmp_path / "mine"
    proc = subprocess.Popen([sys.executable, "-m", "speechseq.streaming.record_cmd", "words=[yes,no]", "takes=2",
                             f"out={out}", "device=vmic", "seconds=2.5", "pause=0.3", "retries=2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
    prompts = []
    try:
        for line in proc.stdout:  # play the word asked for as soon as it is asked
            if line.startswith("say '"):
                word = line.split("'")[1]
                prompts.append(word)
                play = subprocess.run(["bash", str(vmic), "play", str(wavs[word])], capture_output=True, text=True,
                                      timeout=60)
                assert play.returncode == 0, play.stderr
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.2)
    err = "".join(stderr)
    assert proc.returncode == 0, err
    assert prompts == ["yes", "yes", "no", "no"], (prompts, err)
    speaker = (out / ".speaker").read_text().strip()
    for word in ("yes", "no"):
        names = sorted(p.name for p in (out / word).iterdir())
        assert names == [f"{speaker}_nohash_0.wav", f"{speaker}_nohash_1.wav"], names
        for name in names:
            data, rate = sf.read(str(out / word / name), dtype="float32")
            assert rate == SR and data.shape == (SR,) and np.abs(data).max() > 0.2, name
    assert "4 take(s) written" in err

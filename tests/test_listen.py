"""speechseq-listen without a sound card: fake sources, the missing-PortAudio message, views."""

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from speechseq.streaming.api import KeywordDetection, Recognizer
from speechseq.streaming.listen import run_listen
from speechseq.streaming.live_view import RichView
from speechseq.streaming.sources import SourceError
from tests.conftest import REPO
from tests.streaming_helpers import ToneClassifier, compose_app, tone_stream


class ScriptedMic:
    """A source that plays `wave` in 50 ms blocks, then raises `end` (Ctrl-C or a vanished device)."""

    sample_rate = 16000
    device_name = "scripted"

    def __init__(self, wave, end):
        self.wave, self.end = wave, end
        self.overflows, self.dropped_blocks = 1, 0
        self.started = self.closed = False

    def start(self):
        self.started = True

    def __iter__(self):
        for i in range(0, len(self.wave), 800):
            yield self.wave[i:i + 800]
        raise self.end

    def close(self):
        self.closed = True


def test_piped_listen_prints_plain_lines_and_a_summary_on_ctrl_c():
    wave, starts = tone_stream(["low", "high", "low"])
    mic = ScriptedMic(wave, KeyboardInterrupt())
    out, err = io.StringIO(), io.StringIO()
    summary = run_listen(compose_app("listen", []), classifier=ToneClassifier(), source=mic, stdout=out, stderr=err)
    lines = [line.split() for line in out.getvalue().splitlines()]
    assert [w for _, w, _ in lines] == ["low", "high", "low"]
    for (sec, _, score), (_, start_ms) in zip(lines, starts):
        assert start_ms / 1000 < float(sec) < start_ms / 1000 + 1.5 and 0 < float(score) <= 1
    assert mic.started and mic.closed and summary["interrupted"]
    tail = err.getvalue().splitlines()[-1]
    assert "3 detection(s)" in tail and "1 overflow(s)" in tail and "mean compute per hop" in tail


def test_a_vanished_device_still_gives_the_summary_then_the_error():
    wave, _ = tone_stream(["high"])
    err = io.StringIO()
    with pytest.raises(SourceError, match="stopped"):
        run_listen(compose_app("listen", []), classifier=ToneClassifier(),
                   source=ScriptedMic(wave, SourceError("the input device x stopped delivering audio")),
                   stdout=io.StringIO(), stderr=err)
    assert "1 detection(s)" in err.getvalue()


def test_rich_view_renders_level_top3_and_detections():
    rec = Recognizer(ToneClassifier())
    wave, _ = tone_stream(["low"])
    rec.process(wave[:40000])
    view = RichView(io.StringIO(), "vmic")
    view.detection(KeywordDetection("low", 0.91, 2.3))
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100)
    console.print(view.render(rec, ScriptedMic(wave, KeyboardInterrupt())))
    text = console.file.getvalue()
    assert "dBFS" in text and "_silence_" in text and "low" in text and "2.30" in text and "overflows 1" in text


def _run_listen_with_fake_sounddevice(tmp_path, module_body: str, *args):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "sounddevice.py").write_text(module_body)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'fake'}{os.pathsep}{REPO}")
    return subprocess.run([sys.executable, "-m", "speechseq.streaming.listen", "checkpoint=unused.safetensors", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_missing_portaudio_is_one_clear_line(tmp_path):
    # exactly what sounddevice does when libportaudio is not installed
    out = _run_listen_with_fake_sounddevice(tmp_path, "raise OSError('PortAudio library not found')\n")
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "libportaudio2" in errors[0] and "PortAudio" in errors[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_no_input_device_names_the_fix(tmp_path):
    body = ("class PortAudioError(Exception): pass\n"
            "def query_devices(*a, **k):\n"
            "    if a or k: raise PortAudioError('Error querying device -1')\n"
            "    return [{'name': 'hdmi', 'max_input_channels': 0, 'default_samplerate': 48000.0}]\n")
    out = _run_listen_with_fake_sounddevice(tmp_path, body)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "no audio input device found" in out.stderr


def test_unknown_device_lists_the_inputs(tmp_path):
    body = ("class PortAudioError(Exception): pass\n"
            "def query_devices(device=None, kind=None):\n"
            "    if device is not None: raise ValueError(f'No input device matching {device!r}')\n"
            "    return [{'name': 'USB mic', 'max_input_channels': 1, 'default_samplerate': 48000.0}]\n")
    out = _run_listen_with_fake_sounddevice(tmp_path, body, "device=nosuchmic")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "nosuchmic" in out.stderr and "0: USB mic" in out.stderr


class EndlessStream:
    """A fake sounddevice InputStream that delivers tone audio until stopped."""

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback, finished_callback):
        self.callback, self.blocksize = callback, blocksize
        self.wave, _ = tone_stream(["low", "high"] * 3)
        self.active = False
        self.stopped = threading.Event()

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        i = 0
        while not self.stopped.is_set():
            block = self.wave[i:i + self.blocksize]
            if len(block) < self.blocksize:
                i, block = 0, self.wave[:self.blocksize]
            self.callback(block[:, None], self.blocksize, None, None)
            i += self.blocksize
            time.sleep(0.002)  # faster than real time

    def stop(self):
        self.stopped.set()

    def close(self):
        pass


def test_ctrl_c_on_a_live_microphone_stops_cleanly():
    from speechseq.streaming.sources import MicrophoneSource

    def before(signum, frame):  # whatever was there: default_int_handler, or SIG_IGN in a background job
        raise AssertionError("run_listen's own handler should have taken this SIGINT")

    mic = MicrophoneSource(block_ms=50, stream_factory=EndlessStream)
    previous = signal.signal(signal.SIGINT, before)
    try:
        threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        out, err = io.StringIO(), io.StringIO()
        summary = run_listen(compose_app("listen", []), classifier=ToneClassifier(), source=mic, stdout=out,
                             stderr=err)
        assert signal.getsignal(signal.SIGINT) is before  # the handler installed before is restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert summary["interrupted"] and mic.stream.stopped.is_set()
    assert summary["detections"] >= 2 and len(out.getvalue().splitlines()) == summary["detections"]

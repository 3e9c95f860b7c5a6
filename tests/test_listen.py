"""speechseq-listen without a sound card: fake sources, the missing-PortAudio message, views."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from speechseq.streaming.listen import run_listen
from speechseq.streaming.live_view import RichView
from speechseq.streaming.recognizer import StreamingRecognizer
from speechseq.streaming.smoothing import Detection
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
    rec = StreamingRecognizer(ToneClassifier())
    wave, _ = tone_stream(["low"])
    rec.feed(wave[:40000])
    view = RichView(io.StringIO(), "vmic")
    view.detection(Detection(2300.0, "low", 0.91))
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

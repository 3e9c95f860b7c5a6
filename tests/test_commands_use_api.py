"""speechseq-stream, -listen and -serve are thin users of speechseq.Recognizer: one path, one behaviour.

- None of them builds the streaming loop or a backend itself (their imports say so).
- Every sample they read goes through `Recognizer.process`, and what they print is what it returned.
- On real words (mini-set clips, the shipped model on the numpy runtime) each prints the detections
  that `Recognizer.process` gives for the same file fed in 80 ms int16 frames, as an application would.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json

import numpy as np
import pytest
import soundfile as sf

from speechseq.serve.protocol import Limits
from speechseq.streaming.api import Recognizer, recognizer_for_config, stream_options
from speechseq.streaming.listen import run_listen
from speechseq.streaming.stream_cmd import run_stream
from tests.conftest import REPO
from tests.streaming_helpers import ToneClassifier, compose_app, tone_stream
from tests.test_api import FRAME, SR, command_stream, feed, needs_mini

COMMAND_MODULES = ["speechseq/streaming/stream_cmd.py", "speechseq/streaming/listen.py",
                   "speechseq/streaming/live_view.py", "speechseq/serve/app.py", "speechseq/serve/connection.py",
                   "speechseq/serve/serve_cmd.py", "speechseq/serve/protocol.py"]
# what a command would use to run its own loop instead of the API's
LOOP_INTERNALS = {"StreamingRecognizer", "load_classifier", "TorchClassifier", "NumpyClassifier", "OnnxClassifier"}
FAST = Limits(max_speed=1000.0, burst_s=1000.0, max_messages_per_s=10000.0)  # the client sends faster than real time


class FileMicrophone:
    """A microphone that plays `wave` (float32) in 50 ms blocks, then is stopped with Ctrl-C."""

    sample_rate, device_name, overflows, dropped_blocks = SR, "file", 0, 0

    def __init__(self, wave: np.ndarray):
        self.wave = wave

    def start(self):
        pass

    def close(self):
        pass

    def __iter__(self):
        for i in range(0, len(self.wave), 800):
            yield self.wave[i:i + 800]
        raise KeyboardInterrupt


@pytest.fixture
def process_calls(monkeypatch) -> list[tuple[int, int, list]]:
    """(frame length, sample rate, detections) of every Recognizer.process call, in any thread."""
    calls, process = [], Recognizer.process

    def recorded(self, frame, sample_rate=16000):
        detections = process(self, frame, sample_rate)
        calls.append((len(frame), sample_rate, detections))
        return detections

    monkeypatch.setattr(Recognizer, "process", recorded)
    return calls


def detected(calls) -> list:
    return [d for _, _, detections in calls for d in detections]


def csv_rows(detections) -> list[str]:
    return [f"{d.time_ms:.0f},{d.label},{d.score:.4f}" for d in detections]


def listen_lines(detections) -> list[str]:
    return [f"{d.time_s:.2f} {d.label} {d.score:.3f}" for d in detections]


def test_the_commands_import_no_loop_of_their_own():
    for name in COMMAND_MODULES:
        tree = ast.parse((REPO / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert not imported & LOOP_INTERNALS, f"{name} imports {sorted(imported & LOOP_INTERNALS)}"


def test_a_commands_stream_group_gives_the_settings_load_gives_for_those_options():
    cfg = compose_app("stream", ["runtime=numpy", "stream.threshold=0.9", "stream.hop_ms=50",
                                 "+stream.class_thresholds.stop=0.6", "stream.detector=peak"])
    from_config = recognizer_for_config(cfg)
    loaded = Recognizer.load(runtime="numpy", **stream_options(cfg.stream))
    assert from_config.settings == loaded.settings and from_config.runtime == "numpy"
    assert from_config.settings.hop_ms == 50 and dict(from_config.settings.smoothing.class_thresholds) == {"stop": 0.6}
    assert recognizer_for_config(compose_app("stream", ["runtime=numpy"])).settings == Recognizer.load(runtime="numpy").settings


def test_stream_sends_every_sample_through_process_and_writes_what_it_returns(tmp_path, process_calls):
    wave, _ = tone_stream(["high", "low", "low"])
    sf.write(tmp_path / "in.wav", wave, SR, subtype="PCM_16")
    out = io.StringIO()
    summary = run_stream(compose_app("stream", [f"input={tmp_path / 'in.wav'}"]), classifier=ToneClassifier(),
                         stdout=out, stderr=io.StringIO())
    assert sum(n for n, _, _ in process_calls) == len(wave) and {rate for _, rate, _ in process_calls} == {SR}
    heard = detected(process_calls)
    assert [d.label for d in heard] == ["high", "low", "low"]
    assert out.getvalue().splitlines() == ["time_ms,label,score", *csv_rows(heard)]
    assert summary["detections"] == [{"time_ms": d.time_ms, "label": d.label, "score": d.score} for d in heard]


def test_listen_sends_every_block_through_process_and_prints_what_it_returns(process_calls):
    wave, _ = tone_stream(["low", "high"])
    out = io.StringIO()
    summary = run_listen(compose_app("listen", []), classifier=ToneClassifier(), source=FileMicrophone(wave),
                         stdout=out, stderr=io.StringIO())
    assert sum(n for n, _, _ in process_calls) == len(wave)
    heard = detected(process_calls)
    assert [d.label for d in heard] == ["low", "high"] and summary["detections"] == 2
    assert out.getvalue().splitlines() == listen_lines(heard)


def test_serve_gives_each_connection_a_recognizer_and_sends_what_process_returns(process_calls):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from tests.serve_helpers import ServerThread

    wave, _ = tone_stream(["low", "high", "low"])
    with ServerThread(ToneClassifier(), FAST) as server:
        replies = asyncio.run(asyncio.wait_for(serve_client(server.url, wave), 60))
        assert server.wait_for(lambda: server.hub.clients == 0)
    assert sum(n for n, _, _ in process_calls) == len(wave) and {rate for _, rate, _ in process_calls} == {SR}
    heard = detected(process_calls)
    assert [d.label for d in heard] == ["low", "high", "low"]
    assert [(r["label"], r["time"]) for r in replies if r["type"] == "detection"] == [
        (d.label, round(d.time_s, 3)) for d in heard]
    assert server.out.getvalue().splitlines() == listen_lines(heard)


async def serve_client(url: str, wave: np.ndarray, block: int = FRAME) -> list[dict]:
    """Stream `wave` as s16le in 80 ms messages, then close; every message the server sent."""
    from websockets.asyncio.client import connect

    pcm = (np.clip(wave, -1, 32767 / 32768) * 32768).astype("<i2")
    async with connect(url) as ws:
        await ws.send('{"type": "hello", "format": "s16le", "sample_rate": 16000, "channels": 1}')
        replies = [json.loads(await ws.recv())]
        for i in range(0, len(pcm), block):
            await ws.send(pcm[i:i + block].tobytes())
            replies.append(json.loads(await ws.recv()))
            while replies[-1]["type"] == "detection":  # detections follow their message's update
                replies.append(json.loads(await ws.recv()))
    return replies


@needs_mini
@pytest.mark.slow
def test_on_real_words_the_three_commands_print_what_an_application_hears(tmp_path):
    pcm, _ = command_stream()
    sf.write(tmp_path / "words.wav", pcm, SR, subtype="PCM_16")
    expected = feed(Recognizer.load(runtime="numpy"), pcm)  # 80 ms int16 frames, as examples/ feed a file
    assert [d.label for d in expected] == ["yes", "stop", "go", "off"]

    out = io.StringIO()
    run_stream(compose_app("stream", ["runtime=numpy", f"input={tmp_path / 'words.wav'}"]), stdout=out,
               stderr=io.StringIO())
    assert out.getvalue().splitlines()[1:] == csv_rows(expected)

    out = io.StringIO()
    run_listen(compose_app("listen", ["runtime=numpy"]), source=FileMicrophone(pcm / np.float32(32768)),
               stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines() == listen_lines(expected)

    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from speechseq.serve.serve_cmd import make_hub
    from tests.serve_helpers import ServerThread

    hub = make_hub(compose_app("serve", ["runtime=numpy"]), stdout=io.StringIO(), stderr=io.StringIO())
    assert hub.settings == recognizer_for_config(compose_app("stream", ["runtime=numpy"])).settings
    with ServerThread(hub.classifier, FAST, hub.settings) as server:
        replies = asyncio.run(asyncio.wait_for(serve_client(server.url, pcm / np.float32(32768)), 120))
        assert server.wait_for(lambda: server.hub.clients == 0)
    assert server.out.getvalue().splitlines() == listen_lines(expected)
    assert [r["label"] for r in replies if r["type"] == "detection"] == [d.label for d in expected]

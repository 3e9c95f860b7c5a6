"""speechseq-serve's WebSocket protocol with a real client over loopback (uvicorn in a thread).

Bad frames, oversized and wrongly typed messages, a wrong sample format, rate caps, abrupt
disconnects and more clients than allowed each close that one connection with a code and a
reason; the server keeps serving and frees what the connection held.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from speechseq.serve.protocol import Limits  # noqa: E402
from speechseq.streaming.recognizer import StreamingRecognizer  # noqa: E402
from tests.serve_helpers import HELLO, ServerThread, run_client, s16le  # noqa: E402
from tests.streaming_helpers import ToneClassifier, tone_stream  # noqa: E402

FAST = Limits(max_speed=1000.0, burst_s=1000.0, max_messages_per_s=10000.0)  # tests send faster than real time


async def close_of(ws) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "the connection dropped without a close frame"
        return exc.rcvd.code, exc.rcvd.reason


async def hello(ws) -> dict:
    await ws.send(HELLO)
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready"
    return ready


async def stream_all(url: str, wave: np.ndarray, block: int = 1600) -> list[dict]:
    """Send `wave` in blocks, then close; the messages the server sent back."""
    async with connect(url) as ws:
        ready = await hello(ws)
        replies = [ready]
        for i in range(0, len(wave), block):
            await ws.send(s16le(wave[i:i + block]))
            replies.append(json.loads(await ws.recv()))
            while replies[-1]["type"] == "detection":  # detections follow their block's update
                replies.append(json.loads(await ws.recv()))
        return replies


def quantised(wave: np.ndarray) -> np.ndarray:
    return (np.clip(wave, -1, 32767 / 32768) * 32768).astype("<i2").astype(np.float32) / 32768


def test_audio_gives_the_detections_of_the_streaming_loop():
    wave, starts = tone_stream(["low", "high", "low", "high"])
    expected = StreamingRecognizer(ToneClassifier()).feed(quantised(wave))
    assert [d.label for d in expected] == ["low", "high", "low", "high"]
    with ServerThread(ToneClassifier(), FAST) as server:
        async def go():
            replies = await stream_all(server.url, wave)
            return replies
        replies = run_client(go())
        assert server.wait_for(lambda: server.hub.clients == 0)
    assert replies[0]["labels"] == ToneClassifier.labels and replies[0]["sample_rate"] == 16000
    updates = [r for r in replies if r["type"] == "update"]
    assert updates[-1]["t"] == pytest.approx(len(wave) / 16000, abs=1e-3)
    assert sum(len(u["mel"]) for u in updates) == StreamingRecognizer(ToneClassifier()).spec.num_frames(len(wave))
    assert all(len(frame) == 40 for u in updates for frame in u["mel"])
    assert any(u["probs"] is not None and len(u["probs"]) == 4 for u in updates)
    sent = [(r["label"], r["time"]) for r in replies if r["type"] == "detection"]
    assert sent == [(d.label, pytest.approx(d.time_ms / 1000, abs=1e-3)) for d in expected]
    # stdout: exactly speechseq-listen's lines (`<seconds> <label> <score>`) for the same audio
    assert server.out.getvalue().splitlines() == [f"{d.time_ms / 1000:.2f} {d.label} {d.score:.3f}" for d in expected]
    err = server.err.getvalue()
    assert "client 1 connected from 127.0.0.1:" in err and "client 1 disconnected" in err


@pytest.mark.parametrize("first, code, fragment", [
    (b"\x00\x01" * 100, 1008, "send the hello first"),
    ("not json", 1007, "JSON hello"),
    ('{"type": "start"}', 1008, '"type": "hello"'),
    ('{"type": "hello", "format": "f32le", "sample_rate": 16000, "channels": 1}', 1003, "format='f32le'"),
    ('{"type": "hello", "format": "s16le", "sample_rate": 44100, "channels": 1}', 1003, "sample_rate=44100"),
    ('{"type": "hello", "format": "s16le", "sample_rate": 16000, "channels": 2}', 1003, "channels=2"),
])
def test_a_bad_first_message_closes_with_a_reason(first, code, fragment):
    with ServerThread(ToneClassifier(), FAST) as server:
        async def go():
            async with connect(server.url) as ws:
                await ws.send(first)
                return await close_of(ws)
        got_code, reason = run_client(go())
        assert (got_code, fragment in reason) == (code, True), reason
        assert server.wait_for(lambda: server.hub.clients == 0)
        assert f"disconnected: {reason}" in server.err.getvalue()


@pytest.mark.parametrize("message, code, fragment", [
    (b"\x01\x02\x03", 1007, "even, non-zero byte count"),
    (b"", 1007, "even, non-zero byte count"),
    (b"\x00" * 32002, 1009, "over serve.max_message_bytes=32000"),
    ('{"type": "hello"}', 1003, "text message after the hello"),
])
def test_a_bad_audio_message_closes_with_a_reason(message, code, fragment):
    with ServerThread(ToneClassifier(), FAST) as server:
        async def go():
            async with connect(server.url, max_size=None) as ws:
                await hello(ws)
                await ws.send(b"\x00\x00" * 1600)
                assert json.loads(await ws.recv())["type"] == "update"
                await ws.send(message)
                return await close_of(ws)
        got_code, reason = run_client(go())
        assert got_code == code and fragment in reason, (got_code, reason)
        assert server.wait_for(lambda: server.hub.clients == 0)


def test_a_huge_frame_is_refused_before_it_is_buffered():
    with ServerThread(ToneClassifier(), FAST) as server:
        async def go():
            async with connect(server.url) as ws:
                await hello(ws)
                await ws.send(b"\x00" * (8 * 1024 * 1024))
                return await close_of(ws)
        code, _ = run_client(go())
        assert code == 1009
        assert server.wait_for(lambda: server.hub.clients == 0)


def test_audio_faster_than_the_rate_cap_closes_the_connection():
    limits = Limits(max_speed=1.0, burst_s=1.0)
    with ServerThread(ToneClassifier(), limits) as server:
        async def go():
            async with connect(server.url) as ws:
                await hello(ws)
                for _ in range(30):  # 3 s of audio at once
                    await ws.send(b"\x00\x00" * 1600)
                return await close_of(ws)
        code, reason = run_client(go())
        assert code == 1008 and "faster than serve.max_speed=1" in reason, reason


def test_too_many_small_messages_close_the_connection():
    limits = Limits(max_messages_per_s=10.0, burst_s=1.0, max_speed=1000.0)
    with ServerThread(ToneClassifier(), limits) as server:
        async def go():
            async with connect(server.url) as ws:
                await hello(ws)
                for _ in range(40):
                    await ws.send(b"\x00\x00")
                return await close_of(ws)
        code, reason = run_client(go())
        assert code == 1008 and "serve.max_messages_per_s=10" in reason, reason


def test_no_hello_in_time_closes_the_connection():
    with ServerThread(ToneClassifier(), Limits(hello_timeout_s=0.3)) as server:
        async def go():
            async with connect(server.url) as ws:
                return await close_of(ws)
        code, reason = run_client(go())
        assert code == 1008 and "no hello message for 0.3 s" in reason, reason


def test_more_clients_than_allowed_are_refused_and_a_freed_place_is_reused():
    with ServerThread(ToneClassifier(), Limits(max_clients=2)) as server:
        async def go():
            async with connect(server.url) as a, connect(server.url) as b:
                await hello(a)
                await hello(b)
                async with connect(server.url) as c:
                    refused = await close_of(c)
            assert server.wait_for(lambda: server.hub.clients == 0)
            async with connect(server.url) as d:  # the places are free again
                await hello(d)
            return refused
        code, reason = run_client(go())
        assert code == 1013 and "server full: 2 clients connected (serve.max_clients=2)" in reason, reason
        assert "client 3 from 127.0.0.1:" in server.err.getvalue() and "refused" in server.err.getvalue()


def test_a_client_that_vanishes_mid_stream_frees_its_state():
    wave, _ = tone_stream(["high"])
    with ServerThread(ToneClassifier(), FAST) as server:
        async def go():
            ws = await connect(server.url)
            await hello(ws)
            for i in range(0, 16000 * 2, 1600):
                await ws.send(s16le(wave[i:i + 1600]))
            ws.transport.abort()  # no close frame: the TCP connection just goes
            await asyncio.sleep(0)
        run_client(go())
        assert server.wait_for(lambda: server.hub.clients == 0)
        assert server.wait_for(lambda: "client 1 disconnected: client left" in server.err.getvalue())
        replies = run_client(stream_all(server.url, wave))  # and the server still serves
        assert [r["label"] for r in replies if r["type"] == "detection"] == ["high"]

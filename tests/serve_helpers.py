"""Shared bits of the speechseq-serve tests: a server in a thread, a words WAV from the mini set."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from speechseq.serve.protocol import Limits
from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings

SR = 16000
HELLO = '{"type": "hello", "format": "s16le", "sample_rate": 16000, "channels": 1}'


class ServerThread:
    """speechseq-serve's app on uvicorn in a background thread, on a free port of 127.0.0.1."""

    def __init__(self, classifier, limits: Limits = Limits(), settings: StreamSettings = StreamSettings()):
        from speechseq.serve.app import Hub
        from speechseq.serve.serve_cmd import bind_socket, make_server

        self.out, self.err = io.StringIO(), io.StringIO()
        self.hub = Hub(classifier, settings, limits, self.out, self.err)
        self.sock = bind_socket("127.0.0.1", 0)
        self.server = make_server(self.hub, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.port = self.sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()


def s16le(wave: np.ndarray) -> bytes:
    return (np.clip(wave, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()


def run_client(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def confident_clips(root: Path, classifier, words: list[str], margin: float = 0.95) -> list[Path]:
    """For each word, the first test clip (sorted) that the classifier gives at least `margin`."""
    from speechseq.features.numpy_logmel import log_mel

    listed = (root / "testing_list.txt").read_text().split()
    picks = []
    for word in words:
        for name in sorted(n for n in listed if n.startswith(word + "/")):
            wave, rate = sf.read(root / name, dtype="float32")
            assert rate == SR
            wave = np.pad(wave, (0, max(0, SR - len(wave))))[:SR]
            probs = classifier(log_mel(wave, classifier.frontend))
            if classifier.labels[int(np.argmax(probs))] == word and probs.max() >= margin:
                picks.append(root / name)
                break
        else:
            raise AssertionError(f"no test clip of {word!r} reaches {margin}")
    return picks


def words_wav(clips: list[Path], path: Path, lead_s: float = 1.5, gap_s: float = 2.5, tail_s: float = 2.0) -> np.ndarray:
    """The clips one after another, `gap_s` apart, after `lead_s` of quiet; written to `path` (16-bit)."""
    rng = np.random.default_rng(0)
    wave = rng.normal(0, 0.001, int((lead_s + gap_s * len(clips) + tail_s) * SR)).astype(np.float32)
    for i, clip in enumerate(clips):
        audio, _ = sf.read(clip, dtype="float32")
        start = int((lead_s + i * gap_s) * SR)
        wave[start:start + len(audio)] += audio
    sf.write(path, wave, SR, subtype="PCM_16")
    return sf.read(path, dtype="float32")[0]


def offline_labels(classifier, wave: np.ndarray, settings: StreamSettings = StreamSettings()) -> list[str]:
    """The words the streaming loop (what speechseq-stream runs) reports for `wave`."""
    recognizer = StreamingRecognizer(classifier, settings)
    return [d.label for d in recognizer.feed(wave)]

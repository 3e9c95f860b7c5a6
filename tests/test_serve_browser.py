"""speechseq-serve with a real browser: headless Chromium's fake microphone plays WORDS.wav.

WORDS.wav holds real mini-set test clips of clearly separated words (each one the shipped
model is sure of). The page, opened with ?autostart=1, captures the fake microphone with
getUserMedia and an AudioWorklet and streams it over the WebSocket; the server must print the
words that speechseq-stream prints for the same file, in order, at about the same times.
"""

from __future__ import annotations

import io
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from speechseq.streaming.backends import load_classifier, resolve_checkpoint  # noqa: E402
from speechseq.streaming.stream_cmd import run_stream  # noqa: E402
from tests.chromium import CHROMIUM, start_chromium, stop_chromium  # noqa: E402
from tests.conftest import REPO  # noqa: E402
from tests.console import quiet_env  # noqa: E402
from tests.serve_helpers import confident_clips, words_wav  # noqa: E402
from tests.streaming_helpers import compose_app  # noqa: E402

pytestmark = pytest.mark.slow

WORDS = ["yes", "left", "stop", "down", "go"]


def lines_of(stream, into: queue.Queue) -> threading.Thread:
    thread = threading.Thread(target=lambda: [into.put(line.rstrip("\n")) for line in stream], daemon=True)
    thread.start()
    return thread


def next_line(lines: queue.Queue, deadline: float) -> str | None:
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


def stream_detections(wav, classifier) -> list[tuple[float, str]]:
    """What speechseq-stream prints for `wav`: (seconds, label) per CSV row."""
    out = io.StringIO()
    run_stream(compose_app("stream", [f"input={wav}"]), classifier=classifier, stdout=out, stderr=io.StringIO())
    rows = [line.split(",") for line in out.getvalue().splitlines()[1:]]
    return [(int(ms) / 1000, label) for ms, label, _ in rows]


@pytest.mark.parametrize("query", ["", "&resample=worklet"], ids=["browser-resamples", "worklet-resamples"])
def test_words_played_into_the_browser_are_printed_by_the_server(query, mini_root, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    classifier = load_classifier(resolve_checkpoint(None, "torch"), "torch")
    wav = tmp_path / "WORDS.wav"
    wave = words_wav(confident_clips(mini_root, classifier, WORDS), wav)
    expected = stream_detections(wav, classifier)
    assert [label for _, label in expected] == WORDS  # the file says what it should

    server = subprocess.Popen([sys.executable, "-m", "speechseq.serve.serve_cmd", "port=0",
                               f"hydra.run.dir={tmp_path}"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=quiet_env())
    out, err = queue.Queue(), queue.Queue()
    lines_of(server.stdout, out)
    lines_of(server.stderr, err)
    browser, printed, logged = None, [], []
    try:
        deadline = time.monotonic() + 120
        while (line := next_line(err, deadline)) is not None:
            logged.append(line)
            if (match := re.search(r"open http://127\.0\.0\.1:(\d+)/", line)):
                break
        assert match, "the server did not start:\n" + "\n".join(logged)
        browser = start_chromium(f"http://127.0.0.1:{match[1]}/?autostart=1{query}", wav, tmp_path / "profile")
        deadline = time.monotonic() + len(wave) / 16000 + 60
        while len(printed) < len(WORDS) and (line := next_line(out, deadline)) is not None:
            printed.append(line)
    finally:
        browser_err = stop_chromium(browser) if browser else ""
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    while not err.empty():
        logged.append(err.get())
    context = "\nserver stderr:\n" + "\n".join(logged) + "\nchromium stderr (tail):\n" + browser_err[-2000:]
    assert all(re.fullmatch(r"\d+\.\d\d \S+ 0\.\d{3}", line) for line in printed), printed
    heard = [(float(line.split()[0]), line.split()[1]) for line in printed]
    assert [label for _, label in heard] == WORDS, str(heard) + context
    for (t_browser, _), (t_file, _) in zip(heard, expected):  # the browser resamples, so about the same time
        assert abs(t_browser - t_file) < 0.5, (heard, expected)
    assert any("client 1 connected from 127.0.0.1" in line for line in logged), context

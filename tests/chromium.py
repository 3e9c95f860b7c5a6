"""Headless Chromium with a fake microphone that plays a WAV, and a DevTools session to drive the page."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def chromium_command(url: str, wav: Path, profile: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop", "--autoplay-policy=no-user-gesture-required",
            *extra, url]


def start_chromium(url: str, wav: Path, profile: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    return subprocess.Popen(chromium_command(url, wav, profile, extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def stop_chromium(proc: subprocess.Popen) -> str:
    """Terminate; returns what it wrote on stderr (for failure messages)."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


def devtools_page_url(profile: Path, timeout: float = 20.0) -> str:
    """The DevTools WebSocket of the first page of a Chromium started with --remote-debugging-port=0."""
    deadline = time.monotonic() + timeout
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if port_file.is_file() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise TimeoutError("Chromium's DevTools endpoint did not appear")


class DevTools:
    """A DevTools Protocol session with one page: call a method, get its result (events are skipped)."""

    def __init__(self, page_ws_url: str):
        from contextlib import ExitStack

        from websockets.sync.client import connect

        self.stack = ExitStack()  # websockets wants its connections closed as context managers
        self.ws = self.stack.enter_context(connect(page_ws_url, max_size=None))
        self.last_id = 0

    def call(self, method: str, **params) -> dict:
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self.last_id:
                break
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        """Poll until the expression is truthy; its last value (falsy on timeout)."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return value

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.stack.close()


def screenshot(page_ws_url: str, path: Path) -> None:
    devtools = DevTools(page_ws_url)
    try:
        devtools.screenshot(path)
    finally:
        devtools.close()

"""Headless Chromium with a fake microphone that plays a WAV, and a DevTools screenshot."""

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


def screenshot(page_ws_url: str, path: Path) -> None:
    import base64

    from websockets.sync.client import connect

    with connect(page_ws_url, max_size=None) as ws:
        ws.send(json.dumps({"id": 1, "method": "Page.captureScreenshot", "params": {"format": "png"}}))
        while True:
            reply = json.loads(ws.recv())
            if reply.get("id") == 1:
                break
    path.write_bytes(base64.b64decode(reply["result"]["data"]))

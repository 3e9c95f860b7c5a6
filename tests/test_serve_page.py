"""speechseq-serve's page as a newcomer meets it: the icon, the wait for the microphone, the time axis.

The browser tests stub getUserMedia through DevTools so that the test decides when the user
answers the browser's prompt: grant (then the fake microphone plays a tone WAV) or refuse.
"""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

from tests.chromium import (  # noqa: E402
    CHROMIUM,
    DevTools,
    devtools_page_url,
    start_chromium,
    stop_chromium,
)
from tests.serve_helpers import SR, ServerThread  # noqa: E402
from tests.streaming_helpers import ToneClassifier, tone_stream  # noqa: E402

# The user's answer to the microphone prompt is held back until the test calls grant() or refuse().
HELD_PROMPT = """(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.microphonePrompt = { asked: 0 };
  navigator.mediaDevices.getUserMedia = (constraints) => new Promise((resolve, reject) => {
    window.microphonePrompt.asked += 1;
    window.microphonePrompt.grant = () => real(constraints).then(resolve, reject);
    window.microphonePrompt.refuse = () => reject(new DOMException("Permission denied", "NotAllowedError"));
  });
})();"""
STATUS = 'document.getElementById("status").textContent'
NOTICE = 'document.getElementById("notice").hidden ? "" : document.getElementById("notice").textContent'
# Tick marks are the top 5 CSS pixels of the axis canvas: count the columns that hold one.
TICKS_DRAWN = """(() => {
  const axis = document.getElementById("time-axis"), rows = Math.round(5 * devicePixelRatio);
  const data = axis.getContext("2d").getImageData(0, 0, axis.width, rows).data;
  let ticks = 0, inTick = false;
  for (let x = 0; x < axis.width; x++) {
    let ink = false;
    for (let y = 0; y < rows; y++) ink = ink || data[(y * axis.width + x) * 4 + 3] > 0;
    if (ink && !inTick) ticks += 1;
    inTick = ink;
  }
  return ticks;
})()"""


class IconLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.icons = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and "icon" in attrs.get("rel", "").split():
            self.icons.append(attrs)


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers.get("content-type", ""), reply.read()


def test_page_links_an_svg_icon_that_the_app_serves():
    with ServerThread(ToneClassifier()) as server:
        base = f"http://127.0.0.1:{server.port}"
        parser = IconLinks()
        parser.feed(fetch(base + "/")[2].decode())
        assert len(parser.icons) == 1, parser.icons
        icon = parser.icons[0]
        assert icon["type"] == "image/svg+xml" and icon["href"].startswith("/")  # from this server, not the web
        status, content_type, body = fetch(base + icon["href"])
    assert status == 200 and content_type.startswith("image/svg+xml")
    assert ET.fromstring(body).tag == "{http://www.w3.org/2000/svg}svg"


@pytest.fixture
def page(tmp_path):
    """The served page in headless Chromium, its microphone prompt held: (DevTools, server)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    wave, _ = tone_stream(["low", "high", "low"], gap_s=1.5)
    sf.write(tmp_path / "tones.wav", wave, SR, subtype="PCM_16")
    with ServerThread(ToneClassifier()) as server:
        browser = start_chromium("about:blank", tmp_path / "tones.wav", tmp_path / "profile",
                                 ("--remote-debugging-port=0", "--window-size=1200,900"))
        devtools = None
        try:
            devtools = DevTools(devtools_page_url(tmp_path / "profile"))
            devtools.call("Page.enable")  # without it the script below is not injected
            devtools.call("Page.addScriptToEvaluateOnNewDocument", source=HELD_PROMPT)
            devtools.call("Page.navigate", url=f"http://127.0.0.1:{server.port}/?autostart=1")
            assert devtools.wait_for("window.microphonePrompt && window.microphonePrompt.asked"), "never asked"
            yield devtools, server
        finally:
            if devtools:
                devtools.close()
            stop_chromium(browser)


@pytest.mark.slow
def test_page_waits_for_the_microphone_then_streams_on_a_time_axis(page, tmp_path):
    devtools, server = page
    assert devtools.evaluate(STATUS) == "waiting for the microphone"
    assert "allow access" in devtools.evaluate(NOTICE)
    assert not server.wait_for(lambda: server.hub.last_id > 0, timeout=1.0)  # nothing connects before the answer
    assert devtools.evaluate(STATUS) == "waiting for the microphone"

    devtools.evaluate("window.microphonePrompt.grant()")
    assert devtools.wait_for(f'{STATUS}.startsWith("listening")'), devtools.evaluate(STATUS)
    assert devtools.evaluate(NOTICE) == ""
    assert devtools.wait_for('parseFloat(document.getElementById("seconds").textContent) >= 2.5')
    assert devtools.evaluate(TICKS_DRAWN) >= 3  # 0 s, 1 s, 2 s, ... scrolling in from the right
    devtools.screenshot(tmp_path / "page.png")
    assert server.hub.last_id == 1


@pytest.mark.slow
def test_a_refused_microphone_says_what_to_do(page):
    devtools, server = page
    devtools.evaluate("window.microphonePrompt.refuse()")
    assert devtools.wait_for(f'{STATUS} === "microphone blocked"'), devtools.evaluate(STATUS)
    assert "site settings" in devtools.evaluate(NOTICE)
    assert devtools.evaluate('document.getElementById("start").textContent') == "Start"
    assert server.hub.last_id == 0  # refused before any connection was made

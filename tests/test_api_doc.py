"""docs/api.md's snippets run as they are, on a clip.wav and a recording.wav of real test-split words."""

from __future__ import annotations

import contextlib
import doctest
import io
import re

import pytest
import soundfile as sf

from tests.conftest import MINI, REPO
from tests.test_api import COMMAND_CLIPS, needs_mini, write_command_wav

DOC = REPO / "docs" / "api.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
MICROPHONE = "# needs a microphone"
WORDS = list(COMMAND_CLIPS)  # yes stop go off, in recording.wav

pytestmark = needs_mini


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == language]


@pytest.fixture
def in_a_folder_with_audio(tmp_path, monkeypatch):
    pcm, rate = sf.read(MINI / COMMAND_CLIPS["stop"], dtype="int16")
    sf.write(tmp_path / "clip.wav", pcm, rate, subtype="PCM_16")
    write_command_wav(tmp_path / "recording.wav")
    monkeypatch.chdir(tmp_path)


def run_block(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "api_doc"})
    return out.getvalue()


def test_the_doc_has_the_snippets_it_promises():
    python = blocks("python")
    assert len(python) >= 8 and sum(b.startswith(MICROPHONE) for b in python) == 1
    for code in python:  # the microphone's too: at least it compiles
        compile(code, str(DOC), "exec")


def test_the_interactive_example_gives_what_it_shows():
    (session,) = blocks("pycon")
    test = doctest.DocTestParser().get_doctest(session, {}, "api.md", str(DOC), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False) == doctest.TestResults(failed=0, attempted=9)


@pytest.mark.slow
def test_every_snippet_runs_and_hears_the_words(in_a_folder_with_audio):
    outputs = [run_block(code) for code in blocks("python") if not code.startswith(MICROPHONE)]
    overview, classify, process, last_word, listen, side_by_side, thresholds = outputs
    assert overview.splitlines() == ["stop"]
    assert classify.startswith("clip.wav: stop (") and "recording.wav: " in classify
    assert classify.splitlines()[-1] == "error: missing.wav: no such file"
    assert re.findall(r"heard '(\w+)'", process) == WORDS
    empty, heard, top = last_word.splitlines()
    assert empty == "[]" and re.fullmatch(r"stop \(0\.\d\d\) at 1\.\d\d s, the word within 0\.\d\d-1\.\d\d s", heard)
    assert top == "True"
    assert [line.split()[-1] for line in listen.splitlines()] == WORDS
    assert side_by_side.count("calibrated:") == len(WORDS)
    assert thresholds.strip() == "{'no': 0.8, 'off': 0.8}"

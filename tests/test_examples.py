"""Every script in examples/ runs, on a WAV of real test-split clips (yes, stop, go, off) built here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import MINI, REPO
from tests.test_api import COMMAND_CLIPS, SR, command_stream, needs_mini, write_command_wav

EXAMPLES = REPO / "examples"
WORDS = list(COMMAND_CLIPS)  # yes stop go off

pytestmark = needs_mini


@pytest.fixture(scope="module")
def command_wav(tmp_path_factory):
    return write_command_wav(tmp_path_factory.mktemp("examples") / "commands.wav")


def run_example(*args) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, str(EXAMPLES / args[0]), *map(str, args[1:])], capture_output=True,
                         text=True, cwd=REPO, timeout=600, check=False)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_every_example_is_tested():
    assert {p.name for p in EXAMPLES.glob("*.py")} == {"classify_file.py", "on_command.py", "two_models.py",
                                                        "actions.py"}


def test_classify_file(command_wav):
    out = run_example("classify_file.py", MINI / COMMAND_CLIPS["stop"], command_wav)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert ": stop (" in first and ": " in second


def test_on_command_reacts_to_its_word_only(command_wav):
    out = run_example("on_command.py", command_wav, "--word", "stop")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line for line in lines if "stopping the music" in line] == [lines[1]] and len(lines) == len(WORDS)
    assert "heard 'stop'" in lines[1] and "(heard 'go')" in lines[2]


def test_a_word_at_the_very_end_of_the_file_is_heard(tmp_path):
    import soundfile as sf

    pcm, _ = command_stream()
    sf.write(tmp_path / "ends_on_off.wav", pcm[:-int(1.5 * SR)], SR, subtype="PCM_16")  # cut where "off" ends
    out = run_example("on_command.py", tmp_path / "ends_on_off.wav", "--word", "off")
    assert out.returncode == 0, out.stderr
    assert "heard 'off'" in out.stdout.splitlines()[-1] and "stopping the music" in out.stdout.splitlines()[-1]


def test_on_command_with_a_microphone_runs_or_fails_cleanly():
    out = run_example("on_command.py", "--mic", "--seconds", "1")
    assert out.returncode in (0, 2), out.stderr
    if out.returncode == 2:  # no microphone here: one line saying why
        assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1


def test_two_models_each_report_what_they_heard(command_wav):
    out = run_example("two_models.py", command_wav)
    assert out.returncode == 0, out.stderr
    summary = dict(line.split(": ", 1) for line in out.stdout.splitlines()[-2:])
    assert summary["calibrated"].split() == WORDS
    assert set(summary["strict"].split()) <= set(WORDS)


def test_actions_change_the_player(command_wav):
    out = run_example("actions.py", command_wav)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "end: playing, track 1, volume 5, lights off, answer yes"

"""Progress off a terminal: one plain line per stage, never a carriage return; a bar on a terminal."""

import io
import logging

from speechseq.progress import Progress, bars_allowed, on_terminal, plural
from tests.conftest import tiny_train_overrides
from tests.console import run_script


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_loop_ends_in_one_log_line_and_writes_nothing_to_the_stream(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="speechseq.progress"):
        bar = Progress(range(7), total=7, desc="decode train", unit="clip", stream=stream)
        for i in bar:
            bar.set_postfix(loss=f"0.12{i}")
        bar.close()  # a second close (after the loop's own) adds nothing
    assert stream.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("decode train: 7 clips in ") and lines[0].endswith(" s, loss 0.126")
    assert "\r" not in lines[0]


def test_on_a_terminal_it_is_a_tqdm_bar_and_logs_nothing(caplog):
    stream = FakeTerminal()
    with caplog.at_level(logging.INFO, logger="speechseq.progress"):
        assert sum(Progress(range(5), total=5, desc="eval test", unit="batch", stream=stream)) == 10
    assert "eval test" in stream.getvalue() and "\r" in stream.getvalue()
    assert not caplog.records


def test_bars_not_allowed_turn_a_terminal_bar_into_its_line_until_the_block_ends(caplog):
    stream = FakeTerminal()
    with caplog.at_level(logging.INFO, logger="speechseq.progress"):
        with bars_allowed(False):
            with bars_allowed(True):  # an inner block cannot allow what an outer one refused
                list(Progress(range(4), desc="decode train", unit="clip", stream=stream))
        list(Progress(range(2), desc="after", stream=stream))
    assert "decode train" not in stream.getvalue() and "after" in stream.getvalue()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["decode train"]


def test_disabled_or_left_to_the_caller_shows_nothing_off_a_terminal(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="speechseq.progress"):
        list(Progress(range(3), desc="a", stream=stream, enabled=False))
        bar = Progress(range(3), desc="epoch 1/2", unit="step", stream=stream, line_off_terminal=False)
        for _ in bar:
            break  # a loop that stops early closes the bar itself
        bar.close()
    assert stream.getvalue() == "" and not caplog.records
    assert not on_terminal(io.StringIO()) and on_terminal(FakeTerminal())
    assert (plural(1, "batch"), plural(2, "batch"), plural(3, "clip")) == ("1 batch", "2 batches", "3 clips")


def test_a_redirected_training_log_has_no_carriage_returns_and_ends_with_the_paths(synthetic_root, tmp_path):
    run_dir = tmp_path / "run"
    args = [a for a in tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=1) if "progress" not in a]
    res = run_script("speechseq-train", *args, "trainer.progress=true", run_dir=run_dir, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert "\r" not in log, log
    assert "decode train: " in log and "epoch 1/1" in log
    best = run_dir / "checkpoints" / "best.safetensors"
    assert best.is_file()
    assert res.stdout.strip().splitlines()[-2:] == [f"run folder: {run_dir}", f"best checkpoint: {best}"]

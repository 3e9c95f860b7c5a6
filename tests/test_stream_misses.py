"""Where a stream's commands are lost (speechseq.evaluation.stream_misses, scripts/stream_misses.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speechseq.evaluation.stream_misses import command_losses, loss_summary, pooled_means
from speechseq.streaming.sweep import PosteriorTrack

LABELS = ["_silence_", "_unknown_", "yes", "no"]
REPO = Path(__file__).resolve().parents[1]


def track_of(rows: list[list[float]], truth: list[tuple]) -> PosteriorTrack:
    times = 100.0 * (np.arange(len(rows)) + 1)
    return PosteriorTrack(times, np.array(rows, float), LABELS, truth, len(rows) / 10)


def test_pooled_means_average_the_hops_of_the_window():
    track = track_of([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], [])
    pooled = pooled_means(track, 200.0)  # this hop and the one before
    assert pooled[0].tolist() == [1, 0, 0, 0]
    assert pooled[2].tolist() == [0, 0.5, 0.5, 0] and pooled[3].tolist() == [0, 0, 0.5, 0.5]
    assert pooled_means(track, 0.0).tolist() == track.probs.tolist()  # no pooling: each hop alone


def test_a_command_is_lost_by_the_model_in_pooling_or_not_at_all():
    rows = ([[0.0, 0.95, 0.05, 0.0]] * 8                     # yes at 0 ms: never above 0.05 (unknown takes it)
            + [[0.9, 0.1, 0.0, 0.0]] * 12                    # quiet
            + [[0.1, 0.1, 0.0, 0.8]] + [[0.9, 0.1, 0.0, 0.0]] * 19   # no at 2000 ms: one window at 0.8
            + [[0.0, 0.1, 0.0, 0.9]] * 8)                   # no at 4000 ms: eight windows at 0.9
    track = track_of(rows, [("yes", 0.0), ("no", 2000.0), ("no", 4000.0), ("_unknown_", 4500.0)])
    losses = command_losses(track, average_window_ms=800.0)
    assert [x.label for x in losses] == ["yes", "no", "no"]  # the other word is no command
    assert losses[0].best_window == pytest.approx(0.05) and losses[0].rival == "_unknown_"
    assert losses[1].best_window == pytest.approx(0.8) and losses[1].best_pooled == pytest.approx(0.1)
    assert losses[1].rival == "_silence_" and losses[2].best_pooled == pytest.approx(0.9)
    s = loss_summary(losses, 0.5)
    assert s["commands"] == 3 and s["lost_by_model_pct"] == pytest.approx(100 / 3)
    assert s["lost_in_pooling_pct"] == pytest.approx(100 / 3) and s["missed_pct"] == pytest.approx(200 / 3)
    assert s["rivals_of_missed"] == {"_unknown_": 1, "_silence_": 1}
    assert s["missed_per_label"] == {"no": "1/2", "yes": "1/1"}
    assert loss_summary(losses, 0.95)["missed_pct"] == pytest.approx(100.0)
    assert loss_summary([], 0.5)["missed_pct"] == 0.0


def test_the_script_refuses_a_folder_without_a_stream(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"x")
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "stream_misses.py"), str(tmp_path / "m.safetensors"),
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "stream.wav is not a file" in proc.stderr

"""Data-parallel training under torchrun: 2 CPU processes with gloo on the synthetic folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from speechseq.data.batches import batch_indices
from tests.conftest import REPO, tiny_train_overrides, write_synthetic_dataset


def test_rank_shards_are_disjoint_and_equally_long():
    indices = np.arange(103)
    shards = [np.concatenate(list(batch_indices(indices, 8, np.random.default_rng(5), r, 3))) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    flat = np.concatenate(shards)
    assert len(np.unique(flat)) == len(flat) and set(flat) <= set(indices)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(overrides: list[str], weights_dir: Path, cwd: Path, module: str = "speechseq.training.train",
              timeout: float = 600, launcher: tuple[str, ...] = (), **env_extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SPEECHSEQ_RANK_WEIGHTS_DIR=str(weights_dir), OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env_extra)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", *launcher, "-m", module, *overrides]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _rank_weights(folder: Path) -> list[dict]:
    return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_agree_on_weights_and_resume(tmp_path):
    root = write_synthetic_dataset(tmp_path / "sc", clips_per_word=8)
    run_dir = tmp_path / "run"
    base = tiny_train_overrides(root, tmp_path / "cache", epochs=2) + [
        "trainer.num_threads=1", "trainer.test_after_training=false", f"hydra.run.dir={run_dir}"]

    first = _torchrun(base, tmp_path / "w1", tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    w0, w1 = _rank_weights(tmp_path / "w1")
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks ended with different weights"
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]  # written once, by rank 0
    last = run_dir / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    assert all(torch.equal(state["model"][k], w0[k]) for k in w0)

    resumed = _torchrun(tiny_train_overrides(root, tmp_path / "cache", epochs=3) + [
        "trainer.num_threads=1", "trainer.test_after_training=false", f"trainer.resume={last}",
        f"hydra.run.dir={tmp_path / 'other'}"], tmp_path / "w2", tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    r0, r1 = _rank_weights(tmp_path / "w2")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert not all(torch.equal(r0[k], w0[k]) for k in r0)  # the third epoch trained
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]  # the resumed run goes on in its own folder
    assert torch.load(last, weights_only=True)["epoch"] == 3


@pytest.mark.slow
def test_nan_loss_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    root = write_synthetic_dataset(tmp_path / "sc", clips_per_word=8)
    overrides = tiny_train_overrides(root, tmp_path / "cache", epochs=2) + [
        "trainer.num_threads=1", "trainer.test_after_training=false", f"hydra.run.dir={tmp_path / 'run'}"]
    # 2 steps per epoch and rank: rank 1's third loss is epoch 2 step 1. Gloo's default timeout is
    # 30 min, so a rank left waiting would outlast the limit; torchrun looks at its workers only
    # every 5 s here, so it does not end rank 0 before rank 0 has reported on its own.
    run = _torchrun(overrides, tmp_path / "w", tmp_path, module="tests.poisoned_train", timeout=300,
                    launcher=("--monitor-interval=5",), SPEECHSEQ_TEST_POISON_RANK="1", SPEECHSEQ_TEST_POISON_STEP="3")
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("speechseq-train: error:")]
    assert any("loss became nan at epoch 2 step 1 " in e for e in errors), run.stderr[-4000:]
    assert any("another rank's loss became non-finite (rank 0's" in e and "at epoch 2 step 1 " in e
               for e in errors), run.stderr[-4000:]

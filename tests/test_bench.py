"""speechseq-bench on a CPU, shrunk to seconds: every section runs and the output keeps its promises."""

import json

import numpy as np
import pytest

from speechseq.bench.bench_cmd import (
    FrontendSpec,
    bench,
    data_only_baseline,
    librosa_logmel,
    loader_schedule,
)
from speechseq.config import ConfigError
from speechseq.features.logmel import LogMel
from tests.conftest import compose_config

TINY = ["synthetic=true", "synthetic_clips=256", "batch_size=16", "warmup_steps=1", "train_steps=2",
        "baseline_steps=2", "baseline_workers=0", "decode_clips=40", "frontend_clips=64", "librosa_clips=4",
        "eval_clips=64", "eval_batch_size=32", "thread_sweep=[1]", "worker_variant=false", "device=cpu",
        "model.hidden_size=32", "model.num_layers=1"]


@pytest.mark.slow
def test_bench_writes_json_and_ends_with_the_speedup_line(tmp_path, capsys):
    result = bench(compose_config("bench", TINY, tmp_path))
    saved = json.loads((tmp_path / "bench.json").read_text())
    t = saved["train_clips_per_s"]
    assert t["speedup"] == pytest.approx(t["real"] / t["baseline"])
    assert {"real", "baseline", "real_threads_1"} <= t.keys()
    assert saved["decode_clips_per_s"] > 0 and saved["eval_clips_per_s"] > 0
    assert saved["frontend"]["logmel_cpu_over_librosa"] > 0 and saved["memory"]["peak_rss_mb"] > 0
    assert saved["machine"]["nproc"] >= 1 and saved["data"]["clips"] == 256
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"training speedup {result['train_clips_per_s']['speedup']:.1f}x over the per-clip baseline"
    assert any(line.startswith("train: per-clip baseline") for line in lines)


def test_librosa_baseline_features_match_the_logmel_frontend():
    """The baseline computes the same features, so the comparison is like for like."""
    import torch

    wave = (np.random.default_rng(0).normal(0, 0.1, 16000)).astype(np.float32)
    ours = LogMel(FrontendSpec())(torch.from_numpy(wave)[None])[0].numpy()
    theirs = librosa_logmel(wave, FrontendSpec())
    assert theirs.shape == ours.shape == (97, 40)
    assert np.abs(theirs - ours).max() < 1e-2


def test_bad_bench_values_are_rejected_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="train_steps"):
        bench(compose_config("bench", TINY + ["train_steps=0"], tmp_path))


class _SlowItems:
    """A Dataset whose items take a known time, so a DataLoader's true rate is known."""

    def __init__(self, n: int, seconds_per_item: float):
        self.n, self.seconds = n, seconds_per_item

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import time

        import torch

        time.sleep(self.seconds)
        return torch.zeros(2), 0


def test_loader_schedule_eats_the_prefetched_backlog_in_whole_rounds():
    assert loader_schedule(0, 3, 5) == (3, 5)
    warmup, steps = loader_schedule(8, 5, 4)
    assert warmup >= 5 + 8 * 2 and warmup % 8 == 0 and steps % 8 == 0 and steps >= 4


def test_per_clip_loader_rate_is_its_steady_state_not_its_prefetch():
    import torch

    # 2 workers, 4 items of 25 ms per batch: 2 batches per 0.1 s = 80 clips/s at most.
    loader = torch.utils.data.DataLoader(_SlowItems(4 * 40, 0.025), batch_size=4, num_workers=2)
    rate = data_only_baseline(loader, warmup=1, steps=6, device=torch.device("cpu"))
    assert 20 < rate < 80 * 1.25  # timing prefetched batches read several times 80 clips/s

"""CUDA paths: autocast training, data on the device or staged from the host, no per-step host sync.

Skipped without a CUDA device; scripts/gpu_check.sh runs them (`pytest -m gpu`).
"""

import json
import warnings

import numpy as np
import pytest
import torch

from speechseq.data.batches import batch_indices
from speechseq.data.loader import BatchSource, choose_on_device
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.training.train import train
from tests.conftest import compose_config, tiny_train_overrides

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def gpu_overrides(root, tmp_path, *extra, epochs=2):
    base = [o for o in tiny_train_overrides(root, tmp_path / "cache", epochs) if not o.startswith("trainer.device")]
    return base + ["trainer.device=cuda", "trainer.test_after_training=false", *extra]


@pytest.mark.parametrize("on_device", ["true", "false"])
def test_cuda_training_with_autocast_learns(synthetic_root, tmp_path, on_device):
    cfg = compose_config("train", gpu_overrides(synthetic_root, tmp_path, f"data.on_device={on_device}",
                                                "trainer.precision=fp16", epochs=6), tmp_path / "run")
    summary = train(cfg)
    rows = [json.loads(x) for x in open(f"{summary['output_dir']}/metrics.jsonl")]
    assert summary["status"] == "completed" and len(rows) == 6
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] * 0.8
    assert summary["best_val_acc"] > 2 / 12


def _count_syncs(cfg) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(cfg)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("on_device", ["true", "false"])
def test_no_host_sync_per_training_step(synthetic_root, tmp_path, on_device):
    """Syncs must not grow with the number of steps: 4x the steps, (almost) the same count."""
    common = [f"data.on_device={on_device}", "trainer.log_every=100000", "trainer.progress=false"]
    few = _count_syncs(compose_config("train", gpu_overrides(synthetic_root, tmp_path, "trainer.batch_size=16",
                                                             *common, epochs=1), tmp_path / "few"))
    many = _count_syncs(compose_config("train", gpu_overrides(synthetic_root, tmp_path, "trainer.batch_size=4",
                                                              *common, epochs=1), tmp_path / "many"))
    # 1 epoch of ~72 clips: ~5 steps at batch 16, ~18 at batch 4; a sync per step would add >= 13.
    assert many - few <= 3, (few, many)


def test_staged_batches_equal_in_place_batches_on_cuda():
    dev = torch.device("cuda")
    n = 50
    waves = torch.randint(-32768, 32767, (n, 800), dtype=torch.int16)
    split = SplitData("train", waves, torch.arange(n) % 11, [], np.arange(n), np.zeros(0, np.int64), 0, 6, 11)
    noise = NoiseBank(torch.randn(5, 800)).to(dev)
    on_gpu = SplitData("train", waves.to(dev), split.labels.to(dev), [], split.keyword_idx, split.unknown_idx, 0, 6, 11)

    def run(src):
        torch.manual_seed(7)
        rng = np.random.default_rng(1)
        return list(src(batch_indices(split.draw(rng), 8, rng)))

    a = run(BatchSource(on_gpu, noise, dev))
    b = run(BatchSource(split, noise, dev))
    assert b[0][0].device.type == "cuda" and len(a) == len(b)
    for (wa, la), (wb, lb) in zip(a, b):
        assert torch.equal(la, lb) and torch.equal(wa, wb)
    assert choose_on_device("auto", dev, [split]) is True  # 80 kB fits any GPU
    assert choose_on_device("false", dev, [split]) is False


def test_bench_runs_on_cuda_with_synthetic_data(tmp_path, capsys):
    from speechseq.bench.bench_cmd import bench

    cfg = compose_config("bench", ["synthetic=true", "synthetic_clips=4096", "batch_size=256", "train_steps=5",
                                   "baseline_steps=2", "baseline_workers=2", "decode_clips=300",
                                   "frontend_clips=512", "librosa_clips=20", "eval_clips=1024"], tmp_path)
    result = bench(cfg)
    assert result["train_clips_per_s"]["real"] > result["train_clips_per_s"]["baseline"]
    assert "logmel_gpu" in result["frontend"] and result["memory"]["gpu_max_allocated_mb"] > 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("training speedup ")

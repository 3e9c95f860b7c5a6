"""speechseq-bench on a CPU, shrunk to seconds: every section runs and the output keeps its promises."""

import json

import numpy as np
import pytest

from speechseq.bench import FrontendSpec, bench, librosa_logmel
from speechseq.config import ConfigError
from speechseq.features import LogMel
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

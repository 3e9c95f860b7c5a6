"""Scoring in noise: deterministic, noisier is not easier, silence slots untouched; speechseq-eval writes it."""

import json

import numpy as np
import pytest
import torch

from speechseq.data.splits import NoiseBank
from speechseq.deploy.checkpoint import load_inference
from speechseq.evaluation.evaluate import evaluate
from speechseq.evaluation.noise import NoiseAtSnr, score_in_noise
from speechseq.features.logmel import LogMel
from speechseq.training.train import train
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, synthetic_root):
    tmp = tmp_path_factory.mktemp("noise_eval")
    from tests.conftest import tiny_train_overrides

    cfg = compose_config("train", tiny_train_overrides(synthetic_root, tmp / "cache", epochs=3)
                         + ["trainer.test_after_training=false"], tmp / "run")
    return train(cfg)["best_checkpoint"], tmp / "cache"


def test_noise_transform_leaves_silence_and_hits_the_snr():
    g = torch.Generator().manual_seed(0)
    noise = NoiseBank(torch.randn(4, 16000, generator=g) * 0.05)
    waves = torch.sin(torch.arange(16000) / 5.0).repeat(3, 1) * 0.3
    labels = torch.tensor([0, 2, 3])
    out = NoiseAtSnr(noise, 5.0, silence_label=0, seed=0)(waves, labels)
    assert torch.equal(out[0], waves[0])
    snr = 10 * torch.log10(waves[1:].square().mean(1) / (out[1:] - waves[1:]).square().mean(1))
    assert torch.all((snr - 5.0).abs() < 0.1)


def test_score_in_noise_is_deterministic_and_eval_writes_table_and_plot(tiny_run, synthetic_root, tmp_path, capsys):
    ckpt, cache = tiny_run
    cfg = compose_config("eval", [f"checkpoint={ckpt}", f"data.root={synthetic_root}", f"data.cache_dir={cache}",
                                  "device=cpu", "noise_snr=[20,0,-20]"], tmp_path / "a")
    first = evaluate(cfg)
    again = evaluate(compose_config("eval", [f"checkpoint={ckpt}", f"data.root={synthetic_root}",
                                             f"data.cache_dir={cache}", "device=cpu", "noise_snr=[20,0,-20]"],
                                    tmp_path / "b"))
    assert first["noise"] == again["noise"]
    assert [r["snr_db"] for r in first["noise"]] == [20.0, 0.0, -20.0]
    accs = [r["accuracy"] for r in first["noise"]]
    assert accs[0] >= accs[2]  # 20 dB is no harder than -20 dB (noise 100x the speech)
    saved = json.loads((tmp_path / "a" / "report.json").read_text())
    assert saved["noise"] == first["noise"]
    assert (tmp_path / "a" / "noise.png").is_file()
    out = capsys.readouterr().out
    assert "20.0 dB SNR" in out and "-20.0 dB SNR" in out


def test_different_seeds_draw_different_noise(tiny_run, synthetic_root):
    from speechseq.training.data import frontend_spec
    from speechseq.training.train import load_data_split, open_dataset
    from tests.conftest import compose_config as cc

    ckpt, cache = tiny_run
    loaded = load_inference(ckpt)
    cfg = cc("train", [f"data.root={synthetic_root}", f"data.cache_dir={cache}"], synthetic_root.parent / "x")
    label_set, index = open_dataset(cfg.data)
    split = load_data_split(index, "test", label_set, cfg.data, frontend_spec(cfg))
    noise = NoiseBank.from_files(index.noise_files, 16000, 16000)
    frontend = LogMel(loaded.frontend)
    runs = [score_in_noise(loaded.model, frontend, loaded.labels, split, noise, [0.0], torch.device("cpu"), seed=s)
            for s in (0, 0, 1)]
    assert runs[0] == runs[1]
    probs = []
    for s in (0, 1):
        t = NoiseAtSnr(noise, 0.0, split.silence_label, seed=s)
        probs.append(t(torch.ones(2, 16000) * 0.1, torch.tensor([2, 3])).numpy())
    assert not np.allclose(probs[0], probs[1])

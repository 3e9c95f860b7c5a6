"""CPU precision: bf16 autocast where the CPU has it in hardware, fp32 elsewhere; both train."""

import math

import pytest
import torch

from speechseq.config import ConfigError
from speechseq.training.step import amp_settings, native_cpu_bf16
from speechseq.training.train import train


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    with_bf16 = tmp_path / "amx"
    with_bf16.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n")
    without = tmp_path / "epyc"
    without.write_text("flags\t\t: fpu sse avx2 fma\n")
    assert native_cpu_bf16(with_bf16) and not native_cpu_bf16(without)
    assert not native_cpu_bf16(tmp_path / "missing")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN kept off the bf16 instructions
    assert not native_cpu_bf16(with_bf16)


def test_precision_choices_on_a_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert amp_settings("fp32", cpu) == (False, None)
    assert amp_settings("fp16", cpu) == (False, None)
    monkeypatch.setattr("speechseq.training.step.native_cpu_bf16", lambda: True)
    assert amp_settings("auto", cpu) == (True, torch.bfloat16)
    assert amp_settings("bf16", cpu) == (True, torch.bfloat16)
    monkeypatch.setattr("speechseq.training.step.native_cpu_bf16", lambda: False)
    assert amp_settings("auto", cpu) == (False, None)
    with pytest.raises(ConfigError, match="bf16 needs a CPU with bf16 instructions"):
        amp_settings("bf16", cpu)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_train_a_tiny_model(train_cfg, precision, tmp_path):
    cfg = train_cfg(f"trainer.precision={precision}", "trainer.test_after_training=false", epochs=3)
    if precision == "bf16" and not native_cpu_bf16():
        # without the instructions (e.g. ONEDNN_MAX_CPU_ISA=AVX2) it is refused before any data is read
        with pytest.raises(ConfigError, match="trainer.precision"):
            train(cfg)
        assert not (tmp_path / "run" / "data_report.json").exists()
        return
    summary = train(cfg)
    assert summary["status"] == "completed" and math.isfinite(summary["best_val_acc"])
    assert summary["best_val_acc"] > 1 / 12 * 2  # learned something: well above chance over 12 classes
    assert summary["precision"] == precision

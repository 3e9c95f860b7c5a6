"""One optimisation step of the trainer (shared with speechseq-bench), its precision and LR schedule."""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from speechseq.augment.transforms import SpecAugment, WaveAugment
from speechseq.training.distill import distill_loss


class NonFiniteLossError(RuntimeError):
    pass


class NonFiniteWatch:
    """Decides when a non-finite loss ends the run.

    Without a GradScaler one non-finite loss is fatal. With one (fp16 on CUDA) the scaler skips a
    step whose gradients overflow and lowers its scale, so an isolated non-finite loss is let
    through; `patience` checks in a row mean the forward pass itself overflows, which no scale mends.
    """

    def __init__(self, scaler_enabled: bool, patience: int = 3):
        self.scaler_enabled, self.patience, self.streak = scaler_enabled, patience, 0

    def fatal(self, value: float) -> bool:
        if math.isfinite(value):
            self.streak = 0
            return False
        self.streak += 1
        return not self.scaler_enabled or self.streak >= self.patience


def native_cpu_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16) and oneDNN may use it.

    Without it oneDNN emulates bf16 and the step gets slower, not faster. ONEDNN_MAX_CPU_ISA below
    the bf16 ISAs (e.g. AVX2) takes the hardware path away too.
    """
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if isa != "ALL" and "BF16" not in isa and "AMX" not in isa:
        return False
    try:
        flags = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def amp_settings(precision: str, device: torch.device) -> tuple[bool, torch.dtype | None]:
    """(autocast on?, its dtype) for trainer.precision on `device`."""
    if precision == "fp32":
        return False, None
    if device.type == "cpu":
        # fp16 autocast on a CPU is neither fast nor safe; bf16 pays where the hardware has it.
        native = native_cpu_bf16()
        if precision == "bf16" and not native:
            # oneDNN's bf16 LSTM needs the instructions: without them it fails to build its kernel
            from speechseq.config import ConfigError

            raise ConfigError("trainer.precision: bf16 needs a CPU with bf16 instructions (avx512_bf16 or "
                              "amx_bf16 in /proc/cpuinfo, and ONEDNN_MAX_CPU_ISA not below them); this one "
                              "has none: use trainer.precision=auto or fp32")
        if precision == "bf16" or (precision == "auto" and native):
            return True, torch.bfloat16
        return False, None
    if precision == "bf16":
        return True, torch.bfloat16
    return True, torch.float16  # auto/fp16: cuDNN LSTM kernels are fastest in fp16


def keyword_class_weights(labels: torch.Tensor, keyword_idx, n_classes: int, keywords: list[int],
                          power: float) -> torch.Tensor | None:
    """Loss weights that lift the rarer commands (`optim.keyword_balance`): command c weighs
    (mean command count / count of c) ** power, normalised to a mean of 1 over the commands;
    `_silence_` and `_unknown_` weigh 1. None at power 0.

    The mini set has five words with about a third of the clips of the other five (on, off, yes, no,
    stop), and those are the words a model misses most in a stream."""
    if power <= 0 or not keywords:
        return None
    counts = torch.bincount(labels[torch.as_tensor(keyword_idx, dtype=torch.long)].cpu(), minlength=n_classes).double()
    present = [k for k in keywords if counts[k] > 0]
    weights = torch.ones(n_classes, dtype=torch.float64)
    mean = counts[present].mean()
    for k in present:
        weights[k] = (mean / counts[k]) ** power
    weights[present] /= weights[present].mean()
    return weights.float()


def learning_rate(step: int, total: int, cfg_optim) -> float:
    """Linear warm-up from lr/25, then cosine decay to lr/1e4 (one-cycle's shape)."""
    base = cfg_optim.lr
    if cfg_optim.schedule == "constant":
        return base
    warm = int(total * cfg_optim.warmup_fraction)
    if step < warm:
        return base / 25 + (base - base / 25) * step / max(1, warm)
    progress = (step - warm) / max(1, total - warm)
    return base / 1e4 + (base - base / 1e4) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class TrainStep:
    """Augment, features, forward, weighted loss, backward, clip, optimiser step.

    `features` (no parameters touched) and `update` are separate so the trainer can prepare
    the next batch in a background thread while this one trains.

    `model` is the plain classifier (normalisation, parameters); `train_model` what runs the
    forward pass (the DDP wrapper, or the model itself).
    """

    def __init__(self, model: nn.Module, frontend: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                 precision: str = "auto", label_smoothing: float = 0.0, grad_clip: float = 0.0,
                 wave_aug: WaveAugment | None = None, spec_aug: SpecAugment | None = None,
                 train_model: nn.Module | None = None):
        self.model, self.frontend, self.optimizer, self.device = model, frontend, optimizer, device
        self.train_model = train_model or model
        self.use_amp, self.amp_dtype = amp_settings(precision, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction="none")
        self.grad_clip, self.wave_aug, self.spec_aug = grad_clip, wave_aug, spec_aug
        self.class_weights: torch.Tensor | None = None  # optim.keyword_balance: a loss weight per class
        self.teachers = None       # optim.distill_from: speechseq.training.distill.Teachers
        self.distill_weight = 0.0  # optim.distill_weight: the soft targets' share of the loss

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.use_amp else nullcontext()

    def precision_name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32") if self.use_amp else "fp32"

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def features(self, waves: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Waveform augmentation, log-mel, normalisation and SpecAugment: (features, labels, weights,
        the teachers' soft targets or None).

        No parameters are touched, so this can run a batch ahead in another thread; every random
        draw comes from `generator` (the global one when None).
        """
        weights = soft = None
        if self.wave_aug is not None:
            waves, labels, weights = self.wave_aug(waves, labels, generator)
        with torch.no_grad():
            logmel = self.frontend(waves)
            if self.spec_aug is not None:
                logmel = self.spec_aug.warp_logmel(logmel, generator)
            normalized = self.model.normalize(logmel)
            if self.spec_aug is not None:
                normalized = self.spec_aug(normalized, generator)
            if self.teachers is not None:
                with self.autocast():
                    soft = self.teachers.soft_targets(normalized, self.model)
        return normalized, labels, weights, soft

    def __call__(self, waves: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step on raw waveforms; returns (loss, logits, the labels trained on)."""
        normalized, labels, weights, soft = self.features(waves, labels, generator)
        loss, logits = self.update(normalized, labels, weights, soft)
        return loss, logits, labels

    def update(self, normalized: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
               soft: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, weighted loss (and the teachers' soft targets, `soft`), backward, clip, optimiser step."""
        with self.autocast():
            logits = self.train_model(normalized, normalized=True)
        per_clip = self.criterion(logits.float(), labels)
        if soft is not None:
            soft_loss = distill_loss(logits, soft, self.teachers.temperature)
            per_clip = (1.0 - self.distill_weight) * per_clip + self.distill_weight * soft_loss
        if self.class_weights is not None:
            by_class = self.class_weights.to(labels.device)[labels]
            weights = by_class if weights is None else weights * by_class
        loss = per_clip.mean() if weights is None else (per_clip * weights).sum() / weights.sum().clamp_min(1.0)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss, logits

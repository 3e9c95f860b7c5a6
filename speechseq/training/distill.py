"""Distillation (`optim.distill_from`): the model also learns the softened posteriors of trained teachers.

Teachers are checkpoints with the same labels and log-mel frontend as the run (a larger model trained
longer, or several runs of the recipe: their posteriors are averaged). Each batch the teachers see the
same augmented features as the student (converted to their own normalisation), and the loss per clip is

    (1 - w) * cross-entropy(labels) + w * T^2 * KL(teachers at T || student at T)

with w = `optim.distill_weight` and T = `optim.distill_temperature` (Hinton et al., 2015: the T^2
keeps the soft term's gradients on the scale of the hard one). The teachers run in the thread that
prepares the next batch, beside the student's step.

    >>> import torch
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> soft = torch.softmax(logits / 2.0, dim=-1)
    >>> distill_loss(logits, soft, 2.0).tolist()  # the student matches its teachers: no loss
    [0.0, 0.0]
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from speechseq.features.spec import FrontendSpec


def distill_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per clip: T^2 * KL(teacher_probs || softmax(student_logits / T))."""
    log_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    kl = F.kl_div(log_student, teacher_probs.float(), reduction="none").sum(-1)
    return kl.clamp_min(0.0) * temperature ** 2


class Teachers:
    """Trained classifiers whose averaged posteriors at `temperature` a student learns."""

    def __init__(self, models: list[nn.Module], temperature: float):
        if not models:
            raise ValueError("distillation needs at least one teacher")
        self.models = [m.eval() for m in models]
        for m in self.models:
            m.requires_grad_(False)
        self.temperature = float(temperature)

    @classmethod
    def load(cls, paths: list[str | Path], labels: list[str], frontend: FrontendSpec, device: torch.device,
             temperature: float) -> "Teachers":
        """The checkpoints at `paths`; one with other labels or another frontend is a CheckpointError."""
        from speechseq.deploy.checkpoint import load_inference

        models = [load_inference(p, map_location=device, expect_labels=labels, expect_frontend=frontend).model
                  for p in paths]
        return cls(models, temperature)

    @torch.no_grad()
    def soft_targets(self, normalized: torch.Tensor, student: nn.Module) -> torch.Tensor:
        """The teachers' mean posteriors (at the temperature) for features in the student's normalisation."""
        raw = normalized.float() * student.feature_std + student.feature_mean
        probs = [torch.softmax(m(raw).float() / self.temperature, dim=-1) for m in self.models]
        return torch.stack(probs).mean(0)

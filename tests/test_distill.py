"""optim.distill_from: the soft loss, the teachers' view of the features, and a run that learns from a teacher."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from speechseq.training.distill import Teachers, distill_loss


def _model(seed: int, mean: float, std: float) -> RecurrentClassifier:
    torch.manual_seed(seed)
    model = RecurrentClassifier(ModelSpec(n_inputs=4, n_classes=3, hidden_size=8, num_layers=1))
    model.set_normalization(torch.full((4,), mean), torch.full((4,), std))
    return model.eval()


def test_the_soft_loss_is_zero_on_agreement_and_scaled_by_t_squared():
    logits = torch.tensor([[3.0, 0.0, -1.0]])
    agree = torch.softmax(logits / 2.0, dim=-1)
    assert distill_loss(logits, agree, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[0.1, 0.8, 0.1]])
    kl = (other * (other.log() - torch.log_softmax(logits / 2.0, dim=-1))).sum()
    assert distill_loss(logits, other, 2.0).item() == pytest.approx(4.0 * kl.item(), rel=1e-5)


def test_teachers_see_the_features_in_their_own_normalisation():
    student, teacher = _model(0, mean=1.0, std=2.0), _model(1, mean=-3.0, std=0.5)
    raw = torch.randn(2, 10, 4)
    soft = Teachers([teacher], temperature=1.5).soft_targets(student.normalize(raw), student)
    expected = torch.softmax(teacher(raw) / 1.5, dim=-1)
    assert torch.allclose(soft, expected, atol=1e-5)
    two = Teachers([teacher, _model(2, 0.0, 1.0)], temperature=1.0).soft_targets(student.normalize(raw), student)
    assert torch.allclose(two.sum(-1), torch.ones(2)) and not torch.allclose(two, torch.softmax(teacher(raw), -1))
    assert all(not p.requires_grad for p in teacher.parameters())


def test_the_step_mixes_hard_and_soft_loss_by_the_weight():
    from tests.test_keyword_balance import logits_step

    step = logits_step()
    step.teachers = Teachers([nn.Identity()], temperature=2.0)
    logits, labels = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), torch.tensor([1, 2])
    soft = torch.tensor([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    hard = nn.functional.cross_entropy(logits, labels, reduction="none")
    kd = distill_loss(logits, soft, 2.0)
    step.distill_weight = 0.25
    mixed, _ = step.update(logits, labels, None, soft)
    assert mixed.item() == pytest.approx((0.75 * hard + 0.25 * kd).mean().item(), rel=1e-5)
    step.distill_weight = 1.0
    assert step.update(logits, labels, None, soft)[0].item() == pytest.approx(kd.mean().item(), rel=1e-5)
    assert step.update(logits, labels)[0].item() == pytest.approx(hard.mean().item(), rel=1e-5)  # no teacher batch


@pytest.mark.parametrize("override,key", [
    ("optim.distill_weight=0", "optim.distill_weight"), ("optim.distill_temperature=0", "optim.distill_temperature"),
    ("optim.distill_from=[/nope/teacher.safetensors]", "optim.distill_from"),
])
def test_bad_distillation_settings_are_one_line_config_errors(train_cfg, override, key):
    from speechseq.config import ConfigError, validate_train

    with pytest.raises(ConfigError, match=key) as exc:
        validate_train(train_cfg(override))
    assert "\n" not in str(exc.value)


def test_a_run_learns_from_its_teacher_and_refuses_one_with_other_labels(train_cfg, tmp_path, monkeypatch, caplog):
    import logging

    import speechseq.training.step as step_module
    from speechseq.deploy.checkpoint import CheckpointError
    from speechseq.training.train import train

    teacher = train(train_cfg("trainer.test_after_training=false", epochs=1, out=tmp_path / "teacher"))
    soft_batches = []

    def counted(logits, soft, temperature):
        soft_batches.append(soft.shape)
        return distill_loss(logits, soft, temperature)

    monkeypatch.setattr(step_module, "distill_loss", counted)
    with caplog.at_level(logging.INFO, logger="speechseq.training.setup"):
        train(train_cfg(f"optim.distill_from=[{teacher['best_checkpoint']}]", "optim.distill_weight=0.7",
                        "trainer.test_after_training=false", epochs=1, out=tmp_path / "student"))
    assert (tmp_path / "student" / "checkpoints" / "best.safetensors").is_file()
    assert "distilling from 1 teacher(s)" in caplog.text
    assert soft_batches and all(shape[1] == 12 for shape in soft_batches)  # every step had the teacher's targets
    with pytest.raises(CheckpointError):
        train(train_cfg(f"optim.distill_from=[{teacher['best_checkpoint']}]", "data.task=custom", "data.words=[yes,no]",
                        "trainer.test_after_training=false", epochs=1, out=tmp_path / "other"))

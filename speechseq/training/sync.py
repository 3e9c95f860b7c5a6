"""Rank agreement under DDP: every rank must stop, plan and average alike (identity when alone)."""

from __future__ import annotations

import torch

from speechseq.training.distributed import DistInfo, StopFlag, all_reduce_


def any_rank(flag: bool, dist: DistInfo, device: torch.device) -> bool:
    """`flag` alone; under DDP, whether it is set on any rank (one tiny all-reduce)."""
    if not dist.enabled:
        return bool(flag)
    return bool(all_reduce_(torch.tensor([1 if flag else 0], device=device), dist, op="max").item())


def agree_min(value: int, dist: DistInfo, device: torch.device) -> int:
    """The smallest of the ranks' values (ranks time themselves; all must plan the same steps)."""
    if not dist.enabled:
        return int(value)
    return -int(all_reduce_(torch.tensor([-int(value)], device=device), dist, op="max").item())


def stop_agreed(stop: StopFlag, dist: DistInfo, device: torch.device) -> bool:
    """Alone: whether a signal came. Under DDP: whether any rank got one (all must stop at the same step)."""
    return any_rank(bool(stop), dist, device)


def stop_now(stop: StopFlag, step: int, every: int, dist: DistInfo, device: torch.device) -> bool:
    # Under DDP the ranks agree every `every` steps (one tiny all-reduce), not every step.
    if not dist.enabled:
        return bool(stop)
    return step % every == 0 and stop_agreed(stop, dist, device)


def epoch_means(loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, dist: DistInfo,
                 device: torch.device) -> tuple[float, float]:
    """Training loss and accuracy of the epoch over all ranks' shards."""
    if dist.enabled:
        totals = all_reduce_(torch.stack([loss_sum.float(), correct.float(),
                                          torch.tensor(float(seen), device=device)]), dist)
        loss_sum, correct, seen = totals[0], totals[1], int(totals[2].item())
    return (loss_sum / max(seen, 1)).item(), correct.item() / max(seen, 1)

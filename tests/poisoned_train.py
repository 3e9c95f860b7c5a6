"""`python -m tests.poisoned_train <overrides>`: speechseq-train whose loss turns NaN on one rank.

For the DDP test: under torchrun, the rank named by SPEECHSEQ_TEST_POISON_RANK gets a NaN loss
from its step SPEECHSEQ_TEST_POISON_STEP (1-based, counted over the run) on.
"""

import os

import torch

import speechseq.training.train as train_mod

POISON_RANK = os.environ.get("SPEECHSEQ_TEST_POISON_RANK", "1")
POISON_STEP = int(os.environ.get("SPEECHSEQ_TEST_POISON_STEP", "3"))


class PoisonedLoss(torch.nn.CrossEntropyLoss):
    calls = 0

    def forward(self, logits, target):
        loss = super().forward(logits, target)
        PoisonedLoss.calls += 1
        if os.environ.get("RANK") == POISON_RANK and PoisonedLoss.calls >= POISON_STEP:
            return loss * float("nan")
        return loss


torch.nn.CrossEntropyLoss = PoisonedLoss

if __name__ == "__main__":
    train_mod.main()

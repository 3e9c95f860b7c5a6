"""Confidence intervals from clip counts: a share of clips right (Wilson) and class-balanced accuracy.

Torch-free and free of the package's rooms, so evaluation reports and the model card
(`deploy.model_card`, which reads old reports too) compute them the same way.

>>> lo, hi = wilson_interval(45, 50)
>>> round(lo, 3), round(hi, 3)
(0.786, 0.957)
>>> round(balanced_accuracy([0.9, 0.5], [100, 10]), 2)
0.7
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile: two-sided 95 % intervals
CI_LEVEL = 0.95
BALANCED_CI_METHOD = ("normal approximation: mean recall +- z * sqrt(sum of the classes' recall variances) / classes, "
                      "each variance from the Agresti-Coull adjusted recall (k + z^2/2) / (n + z^2) over n + z^2")


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion successes / n; (0, 1) when n is 0 (nothing known).

    Unlike the plain normal interval it stays inside [0, 1] and is not empty at 0 % or 100 %,
    which a class of 25 clips that are all right would otherwise get.
    """
    if n <= 0:
        return 0.0, 1.0
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at 0 % or 100 % the bound is the point itself; rounding would leave it a hair outside
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def balanced_accuracy(recalls: Sequence[float], supports: Sequence[int]) -> float:
    """Class-balanced accuracy: the mean recall over the classes that have clips (0 when none has)."""
    present = [r for r, n in zip(recalls, supports) if n > 0]
    return sum(present) / len(present) if present else 0.0


def balanced_accuracy_interval(recalls: Sequence[float], supports: Sequence[int],
                               z: float = Z95) -> tuple[float, float]:
    """Interval of the class-balanced accuracy by the normal approximation (BALANCED_CI_METHOD).

    The classes' clips are independent samples, so the variance of the mean of K recalls is the
    sum of their variances over K^2. Each variance uses the adjusted recall (k + z^2/2) / (n + z^2)
    over n + z^2 (Agresti and Coull), so a class at 0 % or 100 % still adds its uncertainty.
    The interval is centred on the point and clipped to [0, 1]: it always contains the point.
    """
    classes = [(r, n) for r, n in zip(recalls, supports) if n > 0]
    if not classes:
        return 0.0, 1.0
    point = balanced_accuracy(recalls, supports)
    z2 = z * z
    variance = 0.0
    for recall, n in classes:
        adjusted = (recall * n + z2 / 2) / (n + z2)
        variance += adjusted * (1 - adjusted) / (n + z2)
    half = z * math.sqrt(variance) / len(classes)
    return max(0.0, point - half), min(1.0, point + half)

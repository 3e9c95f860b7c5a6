"""Scoring in noise: the same clips with the dataset's background noise mixed in at given SNRs.

SNR is speech power over noise power across the whole second (torchaudio's add_noise). Noise
segments are drawn from a generator seeded by (seed, SNR), so a score is the same on every run;
silence slots are left as they are (they already are noise).
"""

from __future__ import annotations

import torch

from speechseq.augment.transforms import mix_at_snr
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.evaluation.inference import evaluation_indices, predict_split
from speechseq.evaluation.metrics import classification_report, headline_scores


class NoiseAtSnr:
    """A predict_split transform: every non-silence clip mixed with a noise segment at `snr_db`."""

    def __init__(self, noise: NoiseBank, snr_db: float, silence_label: int | None, seed: int):
        self.noise, self.snr_db, self.silence_label = noise, float(snr_db), silence_label
        self.generator = torch.Generator(device=noise.segments.device).manual_seed(
            int(seed) * 100_003 + int(round(self.snr_db * 100)) % 100_003)

    def __call__(self, waves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        segments = self.noise.sample(len(waves), generator=self.generator, device=waves.device)
        snr = torch.full((len(waves),), self.snr_db, device=waves.device)
        mixed = mix_at_snr(waves, segments, snr).clamp(-1.0, 1.0)
        keep = labels == self.silence_label if self.silence_label is not None else torch.zeros_like(labels, dtype=torch.bool)
        has_speech = waves.square().sum(1) > 0
        return torch.where((~keep & has_speech)[:, None], mixed, waves)


def score_in_noise(model: torch.nn.Module, frontend: torch.nn.Module, labels: list[str], split: SplitData,
                   noise: NoiseBank, snrs, device: torch.device, batch_size: int = 512, seed: int = 0,
                   progress: bool = False) -> list[dict]:
    """One row per SNR: {snr_db, accuracy, balanced_accuracy (with their _ci), macro_f1, n}; [] without background noise."""
    if len(noise) == 0 or not len(snrs):
        return []
    indices = evaluation_indices(split, seed)
    rows = []
    for snr in snrs:
        transform = NoiseAtSnr(noise, snr, split.silence_label, seed)
        targets, probs = predict_split(model, frontend, split, indices, noise, batch_size, device, seed=seed,
                                       progress=progress, transform=transform)
        report = classification_report(targets, probs.argmax(1), labels)
        rows.append({"snr_db": float(snr), **headline_scores(report)})
    return rows


def format_noise_table(clean_accuracy: float, rows: list[dict], clean_balanced: float | None = None) -> str:
    """Accuracy per condition; a class-balanced column too when given the clean figure and rows that have it."""
    balanced = clean_balanced is not None and all("balanced_accuracy" in r for r in rows)
    conditions = ["clean", *(f"{round(r['snr_db'], 1)} dB SNR" for r in rows)]
    return "\n".join(accuracy_table_lines("condition", conditions, [clean_accuracy, *(r["accuracy"] for r in rows)],
                                          [clean_balanced, *(r["balanced_accuracy"] for r in rows)] if balanced else None))


def accuracy_table_lines(header: str, conditions: list[str], accuracy: list[float],
                         balanced: list[float] | None = None) -> list[str]:
    """A condition column, then accuracy (and class-balanced accuracy when given), 4 decimals."""
    width = max(12, len(header), *(len(c) for c in conditions))
    lines = [f"{header:<{width}} {'accuracy':>8}" + (f" {'balanced':>8}" if balanced else "")]
    for i, condition in enumerate(conditions):
        lines.append(f"{condition:<{width}} {accuracy[i]:>8.4f}" + (f" {balanced[i]:>8.4f}" if balanced else ""))
    return lines

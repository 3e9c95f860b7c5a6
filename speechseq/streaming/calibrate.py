"""Choose the detector and its threshold for a false-alarm budget, on validation streams.

For each candidate detector setting the threshold is swept over one posterior pass; the pick
has the most correct minus wrong detections (a wrong command costs at least as much as a
missed one) among the settings with at most `max_false_alarms_per_hour` (on streams with talk, also
at most `max_detections_per_hour_of_talk`, by default as many; ties: fewer false alarms, then the
higher threshold). Per-class thresholds are kept only where they measurably
help: fitted on each half of the stream, they must beat the single threshold on the other half
by `min_gain_pct` points without breaking the budget there, both ways round.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from speechseq.streaming.smoothing import NON_KEYWORDS, SmoothingConfig
from speechseq.streaming.sweep import (
    DEFAULT_THRESHOLDS,
    PosteriorTrack,
    sweep_thresholds,
)

# detector settings tried (each at every threshold); the baseline first
DEFAULT_CANDIDATES = tuple(
    SmoothingConfig(detector=det, average_window_ms=avg, suppression_ms=sup, margin=margin)
    for det, avg, sup, margin in (
        ("recognize_commands", 800, 1500, 0.0), ("recognize_commands", 500, 1500, 0.0),
        ("recognize_commands", 500, 1000, 0.2), ("recognize_commands", 300, 1000, 0.2),
        ("max_pool", 300, 1000, 0.0), ("max_pool", 500, 1500, 0.2),
        ("peak", 500, 1000, 0.0), ("peak", 800, 1500, 0.0), ("peak", 300, 1000, 0.2)))
CLASS_STEPS = (-0.15, -0.1, -0.05, 0.05, 0.1, 0.15)  # per-class offsets tried around the single threshold


def objective(r: dict) -> float:
    return r["correct_pct"] - r["wrong_pct"]


def _rank(r: dict, threshold: float) -> tuple:
    return (round(objective(r), 9), -r["false_alarms_per_hour"], threshold)


@dataclass(frozen=True)
class Budget:
    """False alarms per hour overall, and detections per hour of talk on streams with talk (so the
    budget holds in a room where people speak, not only on average). The calibration hears only
    minutes of talk, so a tighter talk budget leaves room for talk it has not heard."""

    false_alarms_per_hour: float
    detections_per_hour_of_talk: float

    @classmethod
    def of(cls, budget: "Budget | float") -> "Budget":
        return budget if isinstance(budget, Budget) else cls(float(budget), float(budget))

    def at_least(self, r: dict) -> "Budget":
        """This budget, widened to what report `r` spends (a baseline that is over it)."""
        return Budget(max(self.false_alarms_per_hour, r["false_alarms_per_hour"]),
                      max(self.detections_per_hour_of_talk, r.get("detections_per_hour_of_talk", 0.0)))


def within(r: dict, budget: Budget | float) -> bool:
    """Within `budget` (a Budget, or one figure for both false alarms and talk)."""
    b = Budget.of(budget)
    return (r["false_alarms_per_hour"] <= b.false_alarms_per_hour
            and r.get("detections_per_hour_of_talk", 0.0) <= b.detections_per_hour_of_talk)


def best_within_budget(scored: list[tuple[SmoothingConfig, dict]], budget: Budget | float):
    """(config, report) with the best objective within `budget` (`within`), or None."""
    ok = [(c, r) for c, r in scored if within(r, budget)]
    return max(ok, key=lambda cr: _rank(cr[1], cr[0].threshold), default=None)


def _spend(r: dict) -> float:
    return max(r["false_alarms_per_hour"], r.get("detections_per_hour_of_talk", 0.0))


def pick_single_threshold(track: PosteriorTrack, candidates, budget: Budget | float, thresholds=DEFAULT_THRESHOLDS,
                          groups: tuple[PosteriorTrack, ...] = ()):
    """(config, report, sweeps): the best candidate and threshold within the budget, on `track` and on
    each of `groups` (streams of another kind, where the budget must hold too; commands count on `track`).

    Nothing within it: the setting with the least spent anywhere (then the best objective)."""
    scored, sweeps, ok, worst = [], [], [], []
    for base in candidates:
        rows = sweep_thresholds(track, base, thresholds)
        sweeps.append((base, rows))
        others = [sweep_thresholds(g, base, thresholds) for g in groups]
        for i, r in enumerate(rows):
            scored.append((base.with_threshold(r["threshold"]), r))
            ok.append(all(within(o[i], budget) for o in others))
            worst.append(max([_spend(r)] + [_spend(o[i]) for o in others]))
    best = best_within_budget([cr for cr, fine in zip(scored, ok) if fine], budget)
    if best is None:
        best = scored[min(range(len(scored)), key=lambda i: (worst[i], -objective(scored[i][1])))]
    config, _ = best
    return config, track.score(config), sweeps


def fit_class_thresholds(track: PosteriorTrack, config: SmoothingConfig, budget: Budget | float,
                         steps=CLASS_STEPS, groups: tuple[PosteriorTrack, ...] = ()) -> SmoothingConfig:
    """One pass of coordinate ascent over the keywords' thresholds, within the budget (on `groups` too)."""
    best_r = track.score(config)
    for label in [lab for lab in track.labels if lab not in NON_KEYWORDS]:
        per_class = dict(config.class_thresholds)
        base = per_class.get(label, config.threshold)
        for step in steps:
            value = round(base + step, 3)
            if not 0.0 < value < 1.0:
                continue
            trial = replace(config, class_thresholds=tuple({**per_class, label: value}.items()))
            r = track.score(trial)
            if (objective(r) > objective(best_r) + 1e-9 and within(r, budget)
                    and all(within(g.score(trial), budget) for g in groups)):
                config, best_r = trial, r
    return config


def class_thresholds_help(track: PosteriorTrack, candidates, budget: Budget | float, thresholds,
                          min_gain_pct: float, groups: tuple[PosteriorTrack, ...] = ()) -> list:
    """Held-out gains (points of correct - wrong) of per-class thresholds, one per half; [] if too short.
    A half where they go over the budget gains None (the record is strict JSON: no -inf)."""
    halves = track.split(track.duration_s * 500.0)
    if min(len(h.truth) for h in halves) < 20:
        return []
    gains = []
    for fit, check in (halves, halves[::-1]):
        single, _, _ = pick_single_threshold(fit, candidates, budget, thresholds, groups)
        per_class = fit_class_thresholds(fit, single, budget, groups=groups)
        r_single, r_class = check.score(single), check.score(per_class)
        kept = within(r_class, Budget.of(budget).at_least(r_single))
        gains.append(objective(r_class) - objective(r_single) if kept else None)
    return gains


VALIDATION_KEYS = ("command_words", "unknown_words", "duration_s", "correct_pct", "wrong_pct", "missed_pct",
                   "false_alarms_per_hour", "median_latency_from_end_ms", "talk_minutes", "detections_per_hour_of_talk")


def calibrate(track: PosteriorTrack, max_false_alarms_per_hour: float, candidates=DEFAULT_CANDIDATES,
              thresholds=DEFAULT_THRESHOLDS, per_class: bool = True, min_gain_pct: float = 1.0,
              max_detections_per_hour_of_talk: float | None = None, groups: tuple[PosteriorTrack, ...] = ()) -> dict:
    """The calibration record: the chosen settings, their validation scores and the sweeps. `groups`:
    streams of other kinds on which the budget must hold too (their scores under `also_within`)."""
    talk = max_false_alarms_per_hour if max_detections_per_hour_of_talk is None else max_detections_per_hour_of_talk
    budget = Budget(float(max_false_alarms_per_hour), float(talk))
    groups = tuple(groups)
    config, report, sweeps = pick_single_threshold(track, candidates, budget, thresholds, groups)
    gains = class_thresholds_help(track, candidates, budget, thresholds, min_gain_pct, groups) if per_class else []
    use_class = bool(gains) and None not in gains and min(gains) >= min_gain_pct
    if use_class:
        config = fit_class_thresholds(track, config, budget, groups=groups)
        report = track.score(config)
    settings = {k: v for k, v in asdict(config).items() if k != "minimum_count"}
    settings["class_thresholds"] = dict(config.class_thresholds)
    also = [g.score(config) for g in groups]
    return {"settings": settings, "max_false_alarms_per_hour": budget.false_alarms_per_hour,
            "max_detections_per_hour_of_talk": budget.detections_per_hour_of_talk,
            "within_budget": within(report, budget) and all(within(r, budget) for r in also),
            "per_class": {"used": use_class, "held_out_gains_pct": gains, "min_gain_pct": min_gain_pct},
            "validation": {k: report[k] for k in VALIDATION_KEYS if k in report},
            **({"also_within": [{k: r[k] for k in VALIDATION_KEYS if k in r} for r in also]} if also else {}),
            "sweeps": [{"detector": asdict(base), "rows": rows} for base, rows in sweeps]}


STORED_KEYS = ("settings", "max_false_alarms_per_hour", "max_detections_per_hour_of_talk", "within_budget",
               "per_class", "validation", "also_within")


def stored_record(result: dict, hop_ms: float, window_ms: float, source: str) -> dict:
    """What a model keeps of a calibration: `calibrate`'s result without the sweeps, with the
    hop and window it was measured at and `source`, the streams' portable names (no machine paths)."""
    record = {k: result[k] for k in STORED_KEYS if k in result}
    record["settings"] = {**result["settings"], "hop_ms": hop_ms, "window_ms": window_ms}
    record["validation"] = {**result["validation"], "input": source}
    return record

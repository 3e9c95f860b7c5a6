"""Mean and spread of a multirun's results: `python -m speechseq.training.aggregate runs/sweep/DATE [...]`.

One run can be lucky: a recipe is judged by its mean over seeds, and a change is real only when
it beats the spread. Reads each run's summary.json (the best epoch's validation accuracy, plain and
class-balanced) and test_report.json (clean and per-SNR test accuracy, plain and class-balanced),
prints a table and writes aggregate.json beside the runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


TEXT_KEYS = ("run", "select_on")  # a run's row entries that are not figures


def find_runs(folders: list[Path]) -> list[Path]:
    """Run folders (holding summary.json) at or below each of `folders`, sorted."""
    runs = set()
    for folder in folders:
        runs.update(p.parent for p in Path(folder).rglob("summary.json"))
    return sorted(runs)


def run_metrics(run: Path) -> dict:
    """One run's figures: validation and test accuracy (plain and class-balanced; runs from before
    the balanced figure lack it), test accuracy per SNR, epochs, seconds."""
    summary = json.loads((run / "summary.json").read_text())
    row = {"run": str(run), "select_on": summary.get("select_on", "accuracy"), "best_val_acc": summary.get("best_val_acc"),
           "best_val_balanced_acc": summary.get("best_val_balanced_acc"), "epochs": summary.get("epochs_completed"),
           "run_seconds": summary.get("run_seconds", summary.get("train_seconds"))}
    report_path = run / "test_report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        row["test_clean"] = report["accuracy"]
        row["test_balanced"] = report.get("balanced_accuracy")
        for r in report.get("noise", []):
            row[f"test_{r['snr_db']:g}dB"] = r["accuracy"]
            row[f"test_balanced_{r['snr_db']:g}dB"] = r.get("balanced_accuracy")
    return row


def aggregate(rows: list[dict]) -> dict:
    """{metric: {mean, std, min, max, n}} over the runs that have it (std with ddof=1 when n > 1)."""
    keys = [k for k in rows[0] if k not in TEXT_KEYS] if rows else []
    keys += [k for r in rows for k in r if k not in keys and k not in TEXT_KEYS]
    out = {}
    for key in keys:
        values = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
        if values.size:
            out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                        "min": float(values.min()), "max": float(values.max()), "n": int(values.size)}
    return out


def format_table(stats: dict, n_runs: int, select_on: list[str] = ()) -> str:
    """The table; with `select_on` (each run's trainer.select_on) a line saying what chose the best epochs."""
    width = max([14, *map(len, stats)])
    chosen = f", best epoch chosen on validation {' / '.join(sorted(set(select_on)))}" if select_on else ""
    lines = [f"{n_runs} run(s){chosen}", f"{'metric':<{width}} {'mean':>9} {'std':>8} {'min':>9} {'max':>9}"]
    for key, s in stats.items():
        lines.append(f"{key:<{width}} {s['mean']:>9.4f} {s['std']:>8.4f} {s['min']:>9.4f} {s['max']:>9.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speechseq.training.aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="multirun folders (or single runs)")
    parser.add_argument("--output", type=Path, help="aggregate.json path (default: in the first folder)")
    args = parser.parse_args(argv)
    runs = find_runs(args.folders)
    if not runs:
        print(f"no finished runs (summary.json) under {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 2
    rows = [run_metrics(r) for r in runs]
    stats = aggregate(rows)
    print(format_table(stats, len(rows), [r["select_on"] for r in rows]))
    out = args.output or args.folders[0] / "aggregate.json"
    out.write_text(json.dumps({"runs": rows, "stats": stats}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

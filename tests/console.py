"""Running the console scripts in tests: as real subprocesses, or in-process through main().

Subprocesses are the real thing (exit codes, signals, what a user sees) but each pays a few
seconds of torch import; in-process calls go through the same Hydra app and run_guarded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def script_command(prog: str) -> list[str]:
    """The installed console script (beside this Python), else `python -m` of its module."""
    beside = Path(sys.executable).parent / prog
    found = str(beside) if beside.is_file() else shutil.which(prog)
    if found:
        return [found]
    module = {"speechseq-train": "speechseq.training.train", "speechseq-eval": "speechseq.evaluation.evaluate"}[prog]
    return [sys.executable, "-m", module]


def quiet_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SPEECHSEQ_DEBUG", "HYDRA_FULL_ERROR")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def run_script(prog: str, *args: str, run_dir: Path, timeout: float = 300, env: dict | None = None,
               ) -> subprocess.CompletedProcess:
    return subprocess.run(script_command(prog) + list(args) + [f"hydra.run.dir={run_dir}"],
                          capture_output=True, text=True, timeout=timeout, env=env or quiet_env())


def start_script(prog: str, *args: str, run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(script_command(prog) + list(args) + [f"hydra.run.dir={run_dir}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=quiet_env())


def run_main(main, prog: str, args: list[str], run_dir: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """Call a Hydra `main()` with argv, in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [prog, *args, f"hydra.run.dir={run_dir}", "hydra/job_logging=none",
                                      "hydra/hydra_logging=none"])
    monkeypatch.delenv("SPEECHSEQ_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def assert_one_error_line(err: str, prog: str, *fragments: str) -> str:
    # A progress bar that cleared itself leaves "\r"-separated debris; a terminal shows the last part.
    lines = [line.split("\r")[-1] for line in err.split("\n")]
    lines = [line for line in lines if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]

"""The console scripts, run as a user would, on the shared mini set (real Speech Commands clips)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / script), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_help_and_cfg_job_work_for_every_script(tmp_path):
    for script in ("speechseq-train", "speechseq-eval", "speechseq-data"):
        help_text = run(script, "--help", cwd=tmp_path).stdout  # its own help (more in test_cli_help.py)
        assert help_text.startswith(f"{script}: ") and "== Examples ==" in help_text
    out = run("speechseq-train", "--cfg", "job", "model.hidden_size=256", "trainer.max_epochs=30", cwd=tmp_path)
    assert out.returncode == 0 and "hidden_size: 256" in out.stdout and "max_epochs: 30" in out.stdout


def test_train_then_eval_on_the_mini_set(mini_root, tmp_path):
    data = run("speechseq-data", "verify", f"root={mini_root}", f"hydra.run.dir={tmp_path / 'data'}", cwd=tmp_path)
    assert data.returncode == 0, data.stderr
    assert "35 word folders, 6364 clips" in data.stdout

    run_dir = tmp_path / "train"
    train = run("speechseq-train", "experiment=mini", f"data.root={mini_root}", f"data.cache_dir={tmp_path / 'cache'}",
                "trainer.max_epochs=1", "model.hidden_size=32", "model.num_layers=1", "trainer.progress=false",
                f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    lines = train.stdout.strip().splitlines()
    assert re.fullmatch(r"test accuracy 0\.\d{4} \(n=\d+\)", lines[-3])
    assert lines[-2:] == [f"run folder: {run_dir}", f"best checkpoint: {run_dir / 'checkpoints' / 'best.safetensors'}"]
    assert (run_dir / "checkpoints" / "best.safetensors").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "train.log" in {p.name for p in run_dir.iterdir()}
    data_report = json.loads((run_dir / "data_report.json").read_text())
    assert data_report["splits"]["test"]["keyword"] > 0

    eval_dir = tmp_path / "eval"
    ev = run("speechseq-eval", f"checkpoint={run_dir / 'checkpoints' / 'best.safetensors'}", f"data.root={mini_root}",
             f"data.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={eval_dir}", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr[-3000:]
    last = ev.stdout.strip().splitlines()[-1]
    report = json.loads((eval_dir / "report.json").read_text())
    assert last == f"accuracy {report['accuracy']:.4f} (n={report['n']})"
    assert report["n"] == data_report["splits"]["test"]["keyword"] + data_report["splits"]["test"]["unknown_drawn"] \
        + data_report["splits"]["test"]["silence"]
    assert (eval_dir / "confusion.png").is_file()


def test_eval_without_data_or_with_a_missing_checkpoint_is_one_clear_error(tmp_path):
    # no checkpoint given: the shipped model; what is missing then is the data folder
    out = run("speechseq-eval", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert out.returncode == 2 and "data folder" in out.stderr and "Traceback" not in out.stderr
    out = run("speechseq-eval", "checkpoint=nope.safetensors", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert out.returncode == 2 and "nope.safetensors" in out.stderr and "Traceback" not in out.stderr

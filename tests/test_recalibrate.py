"""scripts/recalibrate.py: a finished checkpoint's stored detector chosen again as training's end of
run chooses it, written into the checkpoint and the ONNX export beside it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from speechseq.deploy.metadata import read_checkpoint_metadata

REPO = Path(__file__).resolve().parents[1]
OLD_RULE = {"enabled": True, "seconds": 60.0, "rooms": True, "rt60": 0.3, "distance": 1.0,
            "max_false_alarms_per_hour": 30.0, "seed": 3}  # stored before calibration.takes existed


def _checkpoint(folder: Path) -> Path:
    from speechseq.deploy.checkpoint import save_inference
    from speechseq.deploy.export import export_onnx
    from speechseq.features.logmel import FrontendSpec
    from speechseq.labels import COMMANDS_10, LabelSet
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

    path, labels = folder / "model.safetensors", LabelSet(COMMANDS_10).names
    save_inference(path, RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=8, num_layers=1)), labels,
                   FrontendSpec(), extra={"config": {"calibration": OLD_RULE}})
    export_onnx(path, folder / "model.onnx")
    return path


def _recalibrate(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "recalibrate.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_two_takes_are_stored_in_the_checkpoint_and_its_onnx_export(synthetic_root, tmp_path):
    ckpt = _checkpoint(tmp_path)
    tensors = load_file(str(ckpt))
    done = _recalibrate(ckpt, synthetic_root, "--takes", "2", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    meta = read_checkpoint_metadata(ckpt, ValueError)
    names = ["near", "far", "near_2", "far_2"]
    assert meta["streaming"]["validation"]["input"] == " + ".join(f"calibration/{n}/stream.wav" for n in names)
    assert meta["streaming"]["validation"]["duration_s"] == 240.0  # the stored 60 s per stream kept
    assert meta["config"]["calibration"] == {**OLD_RULE, "takes": 2, "draw": "speaker", "plain_takes": 0,
                                         "max_detections_per_hour_of_talk": None}  # the defaults stored
    assert all((tmp_path / "out" / "calibration" / n / "stream.wav").is_file() for n in names)
    after = load_file(str(ckpt))
    assert after.keys() == tensors.keys() and all(np.array_equal(after[k], tensors[k]) for k in tensors)
    onnx_meta = json.loads((tmp_path / "model.json").read_text())
    assert onnx_meta["streaming"] == meta["streaming"]
    assert f"threshold {meta['streaming']['settings']['threshold']:g}" in done.stdout


def test_bad_settings_and_missing_data_are_one_line_and_leave_the_checkpoint_alone(synthetic_root, tmp_path):
    ckpt = _checkpoint(tmp_path)
    before = ckpt.read_bytes()
    for args, fragment in (((synthetic_root, "--takes", "0"), "calibration.takes"),
                           ((tmp_path / "no_data",), "does not exist")):
        done = _recalibrate(ckpt, *args, "--out", tmp_path / "out")
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1 and fragment in lines[0], done.stderr
        assert lines[0].startswith("recalibrate.py: error: ")
    assert ckpt.read_bytes() == before
    done = _recalibrate(tmp_path / "missing.safetensors", synthetic_root)
    assert done.returncode == 2 and "no .safetensors checkpoint" in done.stderr
    done = _recalibrate(ckpt, synthetic_root, "--plain-takes", "1", "--out", tmp_path / "out")
    assert done.returncode == 2 and "--plain-takes needs --openworld" in done.stderr
    assert ckpt.read_bytes() == before


def test_openworld_recalibrates_on_streams_among_talk(synthetic_root, tmp_path):
    from tests.test_openworld import write_real_world

    ckpt = _checkpoint(tmp_path)
    real_world = write_real_world(tmp_path / "real_world")
    done = _recalibrate(ckpt, synthetic_root, "--takes", "1", "--openworld", real_world, "--plain-takes", "1",
                        "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "calibration" / "near" / "talk.csv").is_file()  # an open-world stream
    stored = read_checkpoint_metadata(ckpt, ValueError)["streaming"]
    validation = stored["validation"]
    assert validation["talk_minutes"] > 0 and "detections_per_hour_of_talk" in validation
    assert "detections per hour of talk" in done.stdout
    plain = stored["also_within"][0]
    assert f"the dataset's own streams: {plain['false_alarms_per_hour']:.1f} false alarms/h" in done.stdout

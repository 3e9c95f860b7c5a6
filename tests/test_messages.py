"""Errors a newcomer meets: one line naming the path and the fix; shipped files carry no machine paths."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest
import soundfile as sf

from speechseq.deploy.pretrained import PRETRAINED_DIR, default_checkpoint
from speechseq.errors import CheckpointError, DatasetError
from speechseq.fsutil import OutputWriteError, atomic_write_text, portable_name
from tests.conftest import compose_config
from tests.console import assert_one_error_line, run_main
from tests.streaming_helpers import compose_app, tone_stream


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from speechseq.deploy.checkpoint import save_inference
    from speechseq.features.logmel import FrontendSpec
    from speechseq.labels import COMMANDS_10, LabelSet
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

    path = tmp_path_factory.mktemp("ckpt") / "best.safetensors"
    labels = LabelSet(COMMANDS_10).names
    save_inference(path, RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=8, num_layers=1)),
                   labels, FrontendSpec())
    return path


# --- a. an output that cannot be written ------------------------------------------------------------

def test_export_to_an_unwritable_place_names_the_output_and_why(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from speechseq.deploy import export

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    output = blocker / "sub" / "model.onnx"
    code, _, err = run_main(export.main, "speechseq-export", [f"checkpoint={tiny_checkpoint}", f"output={output}"],
                            tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    line = assert_one_error_line(err, "speechseq-export", f"cannot write {output}", f"{blocker} is a file, not a folder",
                                 "give output= a file in a writable folder")
    assert ".tmp" not in line and "Errno" not in line


def test_a_write_that_fails_midway_names_the_output_never_the_temporary_file(tiny_checkpoint, tmp_path, monkeypatch):
    import torch

    from speechseq.deploy.export import export_onnx

    def folder_vanished(model, args, f, **kwargs):  # what the OS says when the folder goes away mid-write
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f)

    monkeypatch.setattr(torch.onnx, "export", folder_vanished)
    with pytest.raises(OutputWriteError) as err:
        export_onnx(tiny_checkpoint, tmp_path / "out" / "model.onnx")
    message = str(err.value)
    assert message.startswith(f"cannot write {tmp_path / 'out' / 'model.onnx'}: ") and "output=" in message
    assert ".tmp" not in message and not list((tmp_path / "out").iterdir())


def test_atomic_write_says_why_a_folder_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputWriteError, match=re.escape(f"{tmp_path / 'file'} is a file, not a folder")):
        atomic_write_text(tmp_path / "file" / "a" / "b.json", "{}")
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputWriteError, match="is a link to a missing place"):
        atomic_write_text(tmp_path / "link" / "b.json", "{}")


def test_an_atomic_write_leaves_the_usual_mode_even_when_the_writer_makes_the_file_anew(tmp_path):
    # mkstemp makes 0600, and safetensors' save_file writes a new 0600 file: a checkpoint or calibrated
    # copy must still be readable by others where the umask allows it (a server running as another user)
    import os

    import numpy as np
    from safetensors.numpy import save_file

    from speechseq.fsutil import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "m.safetensors") as tmp:
            save_file({"w": np.zeros(3, dtype=np.float32)}, str(tmp))
        atomic_write_text(tmp_path / "m.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644


# --- b. speechseq-data names its own key ------------------------------------------------------------

@pytest.mark.parametrize("case,fragments", [
    ("missing", ["does not exist", "set root=<folder>"]),
    ("file", ["is a file", "give the folder that holds the word folders"]),
    ("empty", ["not a Speech Commands folder", "set root to the folder"]),
])
def test_speechseq_data_says_root_not_data_root(tmp_path, monkeypatch, capsys, case, fragments):
    from speechseq.data import download

    root = tmp_path / case
    if case == "file":
        root.write_text("x")
    elif case == "empty":
        root.mkdir()
    code, _, err = run_main(download.main, "speechseq-data", ["verify", f"root={root}"], tmp_path / "run",
                            monkeypatch, capsys)
    assert code == 2
    line = assert_one_error_line(err, "speechseq-data", str(root), *fragments)
    assert "data.root" not in line


def test_training_still_says_data_root(tmp_path):
    from speechseq.data.layout import scan_dataset

    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match=re.escape(f"data.root={tmp_path / 'file'} is a file")):
        scan_dataset(tmp_path / "file")


# --- c. a folder where a file is expected -----------------------------------------------------------

def test_stream_input_folder_says_a_file_is_expected(tmp_path, monkeypatch, capsys):
    from speechseq.streaming import stream_cmd

    code, _, err = run_main(stream_cmd.main, "speechseq-stream", [f"input={tmp_path}"], tmp_path / "run",
                            monkeypatch, capsys)
    assert code == 2
    line = assert_one_error_line(err, "speechseq-stream", f"input={tmp_path} is a folder", "give a sound file")
    assert "does not exist" not in line


def test_eval_stream_input_folder_says_a_file_is_expected(tmp_path):
    from speechseq.evaluation.evaluate import evaluate

    labels = tmp_path / "labels.csv"
    labels.write_text("label,start_ms\n")
    cfg = compose_config("eval", ["mode=stream", "checkpoint=x.safetensors", f"input={tmp_path}",
                                  f"labels={labels}"], tmp_path / "run")
    with pytest.raises(FileNotFoundError, match=f"input={re.escape(str(tmp_path))} is a folder; give the stream's WAV"):
        evaluate(cfg)


def test_a_folder_given_as_a_wav_source_is_named_as_one(tmp_path):
    from speechseq.streaming.sources import SourceError, WavFileSource

    with pytest.raises(SourceError, match="is a folder; give a sound file"):
        WavFileSource(tmp_path)


# --- d. an ONNX export given to the torch runtime ---------------------------------------------------

def test_stream_with_an_onnx_export_on_the_torch_runtime_suggests_runtime_onnx(tmp_path, monkeypatch, capsys):
    from speechseq.streaming import stream_cmd

    onnx = default_checkpoint("onnx")
    sf.write(tmp_path / "in.wav", tone_stream(["low"])[0], 16000)
    code, _, err = run_main(stream_cmd.main, "speechseq-stream", [f"checkpoint={onnx}", "runtime=torch",
                                                                  f"input={tmp_path / 'in.wav'}"],
                            tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, "speechseq-stream", f"checkpoint={onnx} is an ONNX export", "add runtime=onnx")


def test_listen_refuses_the_mismatch_before_opening_the_microphone(tmp_path):
    from speechseq.streaming.listen import run_listen

    onnx = default_checkpoint("onnx")
    with pytest.raises(CheckpointError, match="add runtime=onnx"):
        run_listen(compose_app("listen", [f"checkpoint={onnx}", "runtime=torch"]))  # no microphone here: it must not get that far
    with pytest.raises(CheckpointError, match="runtime=onnx cannot read"):
        run_listen(compose_app("listen", [f"checkpoint={default_checkpoint('torch')}", "runtime=onnx"]))


def test_eval_scores_an_onnx_stream_with_onnxruntime_and_refuses_it_for_clips(tmp_path, capsys):
    from speechseq.evaluation.evaluate import evaluate

    onnx = default_checkpoint("onnx")
    wave, starts = tone_stream(["low", "high"])
    sf.write(tmp_path / "s.wav", wave, 16000)
    (tmp_path / "labels.csv").write_text("label,start_ms\n" + "".join(f"yes,{t}\n" for _, t in starts))
    report = evaluate(compose_config("eval", ["mode=stream", f"checkpoint={onnx}", f"input={tmp_path / 's.wav'}",
                                              f"labels={tmp_path / 'labels.csv'}", "plots=false"], tmp_path / "ev"))
    assert report["checkpoint"] == str(onnx) and "correct_pct" in report
    with pytest.raises(CheckpointError, match="is an ONNX export; mode=clips scores the .safetensors"):
        evaluate(compose_config("eval", [f"checkpoint={onnx}", f"data.root={tmp_path}"], tmp_path / "clips"))


# --- e. shipped files carry no machine paths --------------------------------------------------------

ABSOLUTE = re.compile(r"^(/|\\\\|[A-Za-z]:[\\/])|(^|[\s(='\"])/(home|root|tmp|work|Users|mnt|var|opt|private)/")


def strings_in(value) -> list[str]:
    """Every string in a JSON value, the JSON held inside strings included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_in(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            return [value]
        return [value] if isinstance(inner, str) else strings_in(inner)
    return []


def shipped_metadata() -> dict[str, list[str]]:
    from safetensors import safe_open

    found = {}
    for path in sorted(PRETRAINED_DIR.iterdir()):
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="numpy") as fh:
                found[path.name] = strings_in(fh.metadata() or {})
        elif path.suffix == ".json":
            found[path.name] = strings_in(json.loads(path.read_text()))
        elif path.suffix == ".onnx":
            import onnx

            model = onnx.load(str(path), load_external_data=False)
            found[path.name] = [model.doc_string, model.graph.doc_string, *(p.value for p in model.metadata_props)]
        elif path.suffix == ".md":
            found[path.name] = path.read_text().split()
    return found


def test_no_shipped_metadata_string_looks_like_an_absolute_path():
    found = shipped_metadata()
    assert {"kws12_mini.safetensors", "kws12_mini.json", "kws12_mini.onnx"} <= found.keys()
    absolute = {name: [s for s in strings if ABSOLUTE.search(s)] for name, strings in found.items()}
    assert not any(absolute.values()), absolute
    assert ABSOLUTE.search("/tmp/runs/att_s1") and ABSOLUTE.search("C:\\runs") and not ABSOLUTE.search("a/b.wav")


def test_calibration_and_export_store_names_only(tmp_path):
    assert portable_name("/tmp/runs/cal/streams/validation_loud/stream.wav", parts=2) == "validation_loud/stream.wav"
    assert portable_name("/x/best.safetensors") == "best.safetensors" and portable_name("/s.wav", parts=2) == "s.wav"
    shipped = json.loads((PRETRAINED_DIR / "kws12_mini.json").read_text())
    assert shipped["source_checkpoint"] == "kws12_mini.safetensors"
    assert shipped["streaming"]["validation"]["input"] == " + ".join(
        f"calibration/{name}/stream.wav" for name in ("near", "far", "near_2", "far_2"))

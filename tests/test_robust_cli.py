"""Bad folders, bad configs and foreign checkpoints, as a user meets them on the command line.

Each failure must be one line on stderr saying what is wrong and how to fix it, a non-zero
exit code and no traceback; debug=true (or SPEECHSEQ_DEBUG=1) shows the traceback.
A few cases run the real console scripts; the rest call the same Hydra main() in-process.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from speechseq.deploy.checkpoint import read_metadata, save_inference
from speechseq.features.logmel import FrontendSpec
from speechseq.labels import make_label_set
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from tests.conftest import write_synthetic_dataset
from tests.console import assert_one_error_line, run_main, run_script

TRAIN, EVAL = "speechseq-train", "speechseq-eval"


def _checkpoint(path, task="v2_12", **meta_changes):
    """An untrained inference checkpoint for `task`'s labels, metadata optionally altered."""
    labels = make_label_set(task).names
    torch.manual_seed(0)
    save_inference(path, RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=8, num_layers=1)), labels,
                   FrontendSpec())
    if meta_changes:
        meta = read_metadata(path)
        meta.update(meta_changes)
        save_file(load_file(str(path)), str(path), metadata={"speechseq": json.dumps(meta)})
    return path


# --- real console scripts ----------------------------------------------------------------------

@pytest.mark.slow
def test_train_missing_root_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "no_such_folder"
    res = run_script(TRAIN, f"data.root={missing}", "trainer.device=cpu", run_dir=tmp_path / "r1")
    assert res.returncode == 2
    assert_one_error_line(res.stderr, TRAIN, str(missing), "does not exist", "speechseq-data download")

    res = run_script(TRAIN, f"data.root={missing}", "trainer.device=cpu", "debug=true", run_dir=tmp_path / "r2")
    assert res.returncode != 0 and "Traceback" in res.stderr and "DatasetError" in res.stderr


@pytest.mark.slow
def test_config_errors_through_the_console_script_name_the_key(tmp_path):
    # Range errors are checked before the data: the root does not exist, yet the key is what is reported.
    res = run_script(TRAIN, f"data.root={tmp_path / 'nope'}", "model.hidden_size=-3", run_dir=tmp_path / "r1")
    assert res.returncode == 2
    assert_one_error_line(res.stderr, TRAIN, "model.hidden_size", "must be positive")
    # Unknown keys are Hydra's own error: one message naming the key, no traceback.
    res = run_script(TRAIN, "model.hidden_sise=64", run_dir=tmp_path / "r2")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "hidden_sise" in res.stderr and "model.hidden_sise" in res.stderr


@pytest.mark.slow
def test_eval_of_a_checkpoint_for_words_the_folder_lacks(synthetic_root, tmp_path):
    ckpt = _checkpoint(tmp_path / "v2_35.safetensors", task="v2_35")
    res = run_script(EVAL, f"checkpoint={ckpt}", f"data.root={synthetic_root}", "device=cpu",
                     "data.cache_dir=null", run_dir=tmp_path / "r")
    assert res.returncode == 2
    assert_one_error_line(res.stderr, EVAL, "have no folder", "the checkpoint predicts them", "'backward'")


# --- the same main(), in-process ---------------------------------------------------------------

def _small_root(tmp_path):
    return write_synthetic_dataset(tmp_path / "small", clips_per_word=3, words=("yes", "no", "cat"))


def _bad_roots(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    not_sc = tmp_path / "not_sc"
    (not_sc / "docs").mkdir(parents=True)
    (not_sc / "docs" / "notes.txt").write_text("hello")
    (not_sc / "song.wav").write_bytes(b"RIFF")
    listed_missing = _small_root(tmp_path)
    with open(listed_missing / "testing_list.txt", "a") as fh:
        fh.write("yes/0badf00d_nohash_0.wav\n")
    undecodable = tmp_path / "undecodable"
    for word in ("yes", "no"):
        (undecodable / word).mkdir(parents=True)
        for i in range(3):
            (undecodable / word / f"{i:08x}_nohash_0.wav").write_bytes(b"not audio" * i)
    return {"missing": tmp_path / "missing", "empty": empty, "not_sc": not_sc,
            "listed_missing": listed_missing, "undecodable": undecodable}


@pytest.mark.parametrize("case,extra,fragments", [
    ("missing", [], ["does not exist", "speechseq-data download"]),
    ("empty", [], ["not a Speech Commands folder", "set data.root"]),
    ("not_sc", [], ["not a Speech Commands folder", "<word>/*.wav"]),
    ("listed_missing", [], ["1 file(s) named in", "0badf00d", "re-download, or remove the lists"]),
    ("undecodable", ["data.task=custom", "data.words=[yes,no]"], ["could be decoded", "must hold WAV audio"]),
    ("listed_missing_words", ["data.task=custom", "data.words=[yes,banana]"],
     ["['banana']", "no folder", "data.words=[...]", "'cat'"]),
])
def test_bad_data_folders_fail_with_one_line(tmp_path, monkeypatch, capsys, case, extra, fragments):
    from speechseq.training.train import main

    roots = _bad_roots(tmp_path)
    if case == "listed_missing_words":
        root = _small_root(tmp_path / "words")
    else:
        root = roots[case]
    code, _, err = run_main(main, TRAIN, [f"data.root={root}", "data.cache_dir=null", "trainer.device=cpu",
                                          "trainer.progress=false", *extra], tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, TRAIN, *fragments)


def test_speechseq_debug_env_shows_the_traceback(tmp_path, monkeypatch, capsys):
    from speechseq.data.layout import DatasetError
    from speechseq.training.train import main

    monkeypatch.setattr("sys.argv", [TRAIN, f"data.root={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path / 'r'}",
                                     "hydra/job_logging=none", "hydra/hydra_logging=none"])
    monkeypatch.setenv("SPEECHSEQ_DEBUG", "1")
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # Hydra then re-raises instead of printing its summary
    with pytest.raises(DatasetError):
        main()


@pytest.mark.parametrize("changes,fragments", [
    ({"format_version": 99}, ["format 99 is newer", "upgrade speechseq"]),
    ({"frontend": {**FrontendSpec().to_dict(), "kind": "mfcc"}}, ["its frontend is of kind 'mfcc'", "upgrade"]),
    ({"frontend": {**FrontendSpec().to_dict(), "center": True}}, ["frontend has settings ['center']", "upgrade"]),
    ({"frontend": {**FrontendSpec().to_dict(), "n_mels": 64}}, ["inconsistent", "64 mels"]),
    ({"labels": "yes,no"}, ["incomplete or damaged metadata"]),
])
def test_foreign_checkpoints_are_refused_by_eval(synthetic_root, tmp_path, monkeypatch, capsys, changes, fragments):
    from speechseq.evaluation.evaluate import main

    ckpt = _checkpoint(tmp_path / "odd.safetensors", **changes)
    code, _, err = run_main(main, EVAL, [f"checkpoint={ckpt}", f"data.root={synthetic_root}", "device=cpu",
                                         "data.cache_dir=null"], tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, EVAL, *fragments)


@pytest.mark.parametrize("args,fragments", [
    (["stream.threshold=high"], ["stream.threshold=high", "could not be converted to Float"]),
    (["checkpoint=x.safetensors", "batch_size=0"], ["batch_size: must be positive"]),
    (["split=dev"], ["split: 'dev' is not test"]),
    (["checkpoint=x.safetensors", "data.task=v9"], ["data.task"]),
])
def test_eval_config_errors_come_before_the_checkpoint_or_data(tmp_path, monkeypatch, capsys, args, fragments):
    from speechseq.evaluation.evaluate import main

    # Neither the checkpoint nor the root exists: the config error must be what is reported.
    code, _, err = run_main(main, EVAL, [*args, f"data.root={tmp_path / 'missing'}"], tmp_path / "run",
                            monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, EVAL, *fragments)


def test_ctrl_c_before_training_starts_is_one_line_exit_130(synthetic_root, tmp_path, monkeypatch, capsys):
    import speechseq.training.train as train_mod

    def interrupted_while_decoding(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "prepare_data", interrupted_while_decoding)
    code, _, err = run_main(train_mod.main, TRAIN, [f"data.root={synthetic_root}", "trainer.device=cpu"],
                            tmp_path / "run", monkeypatch, capsys)
    assert code == 130 and err.strip() == f"{TRAIN}: interrupted"

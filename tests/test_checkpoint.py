import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from speechseq.deploy.checkpoint import (
    CheckpointError,
    load_inference,
    load_resume_state,
    read_metadata,
    save_inference,
    save_resume_state,
)
from speechseq.features.logmel import FrontendSpec
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def _model():
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelSpec(40, 4, hidden_size=16, pooling="attention")).eval()
    model.set_normalization(torch.randn(40), torch.rand(40) + 0.5)
    return model


def test_round_trip_gives_the_same_outputs_and_metadata(tmp_path):
    model = _model()
    path = tmp_path / "best.safetensors"
    save_inference(path, model, LABELS, FrontendSpec(), extra={"metrics": {"val_acc": 0.5}})
    loaded = load_inference(path)
    x = torch.randn(2, 97, 40)
    assert torch.equal(model(x), loaded.model(x))
    assert loaded.labels == LABELS and loaded.frontend == FrontendSpec()
    assert loaded.metadata["metrics"]["val_acc"] == 0.5
    assert "torch" in loaded.metadata["versions"]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def _rewrite_metadata(path, **changes):
    from safetensors.torch import load_file

    meta = read_metadata(path)
    meta.update(changes)
    save_file(load_file(str(path)), str(path), metadata={"speechseq": json.dumps(meta)})


def test_newer_format_version_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    _rewrite_metadata(path, format_version=99)
    with pytest.raises(CheckpointError, match="newer"):
        load_inference(path)


def test_other_labels_or_frontend_are_clear_errors(tmp_path):
    path = tmp_path / "m.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    with pytest.raises(CheckpointError, match="labels"):
        load_inference(path, expect_labels=["_silence_", "_unknown_", "up", "down"])
    with pytest.raises(CheckpointError, match="frontend"):
        load_inference(path, expect_frontend=FrontendSpec(n_mels=64))


def test_metadata_that_disagrees_with_the_weights_is_not_a_shape_traceback(tmp_path):
    path = tmp_path / "m.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    meta = read_metadata(path)
    meta["model"]["hidden_size"] = 32
    _rewrite_metadata(path, model=meta["model"])
    with pytest.raises(CheckpointError, match="do not match"):
        load_inference(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError):
        load_inference(path)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_resume_state_refuses_a_pickle_that_would_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "last.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"epoch": 1, "payload": _RunsCode()}, fh)
    with pytest.raises(CheckpointError, match="refused"):
        load_resume_state(evil)
    assert not (tmp_path / "PWNED").exists()


def test_resume_state_round_trip(tmp_path):
    model = _model()
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(1, 97, 40)).sum().backward()
    opt.step()
    save_resume_state(tmp_path / "last.pt", {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                             "history": ['{"epoch": 1}']})
    state = load_resume_state(tmp_path / "last.pt")
    assert state["epoch"] == 3
    assert torch.equal(state["model"]["head.weight"], model.state_dict()["head.weight"])


# --- crash safety and checkpoints from strangers ------------------------------------------------

def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    import speechseq.deploy.checkpoint as ckpt_mod

    path = tmp_path / "best.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    before = path.read_bytes()

    def crash_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"\x00" * 100)  # the first bytes are out when the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod, "save_file", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        save_inference(path, _model(), ["a", "b", "c", "d"], FrontendSpec())
    assert path.read_bytes() == before and load_inference(path).labels == LABELS
    assert not list(tmp_path.glob(".*.tmp"))

    def torch_save_fails_midway(obj, f):
        Path(f).write_bytes(b"\x80\x02")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", torch_save_fails_midway)
    with pytest.raises(OSError, match="No space"):
        save_resume_state(tmp_path / "last.pt", {"epoch": 1})
    assert not (tmp_path / "last.pt").exists() and not list(tmp_path.glob(".*.tmp"))


def test_loading_an_inference_checkpoint_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "best.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())

    def forbidden(*a, **k):
        raise AssertionError("unpickling during load_inference")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    assert load_inference(path).labels == LABELS


def test_resume_needs_resume_state_not_an_inference_checkpoint(tmp_path):
    path = tmp_path / "best.safetensors"
    save_inference(path, _model(), LABELS, FrontendSpec())
    with pytest.raises(CheckpointError, match="checkpoints/last.pt"):
        load_resume_state(path)


def test_resume_state_from_elsewhere_or_other_settings_is_refused():
    from speechseq.deploy.checkpoint import check_resume_state

    config = {"model": {"cell": "lstm", "hidden_size": 16}, "features": {"n_mels": 40},
              "data": {"task": "v2_12", "words": None, "root": "a"}}
    with pytest.raises(CheckpointError, match="not speechseq resume state"):
        check_resume_state("x.pt", {"weight": torch.zeros(3)}, config)
    state = {k: 0 for k in ("epoch", "model", "optimizer", "scaler", "best_val_acc", "best_epoch", "history")}
    state["config"] = json.dumps(config)
    other = json.loads(state["config"])
    other["data"]["root"] = "b"  # the data may move between runs
    check_resume_state("x.pt", state, other)
    other["model"]["hidden_size"] = 32
    other["data"]["task"] = "v2_35"
    with pytest.raises(CheckpointError, match=r"model.hidden_size=16 \(this run: 32\).*data.task='v2_12'"):
        check_resume_state("x.pt", state, other)


def test_resume_state_saved_before_a_new_model_setting_still_resumes():
    """Runs started before model.nonlinearity existed resume with its default; another value is refused."""
    from speechseq.deploy.checkpoint import check_resume_state

    config = {"model": {"cell": "rnn", "hidden_size": 16}, "features": {"n_mels": 40},
              "data": {"task": "v2_12", "words": None}}
    state = {k: 0 for k in ("epoch", "model", "optimizer", "scaler", "best_val_acc", "best_epoch", "history")}
    state["config"] = json.dumps(config)
    now = json.loads(state["config"])
    now["model"]["nonlinearity"] = "tanh"
    check_resume_state("x.pt", state, now)
    now["model"]["nonlinearity"] = "relu"
    with pytest.raises(CheckpointError, match=r"model.nonlinearity='tanh' \(this run: 'relu'\)"):
        check_resume_state("x.pt", state, now)

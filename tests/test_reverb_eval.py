"""Scoring in rooms: silence untouched, room before noise, deterministic, not the clean score;
speechseq-eval writes the rows, the table and reverb.png, and refuses a bad RT60 before reading data."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import speechseq.evaluation.evaluate as evaluate_module
from speechseq.augment.rir_bank import stack_rirs
from speechseq.data.splits import NoiseBank
from speechseq.deploy.pretrained import default_checkpoint
from speechseq.evaluation import reverb
from speechseq.evaluation.evaluate import evaluate
from speechseq.evaluation.reverb import RoomsAt, format_reverb_table
from tests.conftest import compose_config
from tests.console import assert_one_error_line, run_main

SR = 16000
ROW_KEYS = {"rt60_s", "distance_m", "snr_db", "accuracy", "accuracy_ci", "balanced_accuracy", "balanced_accuracy_ci",
            "macro_f1", "n"}
# three rooms per RT60 simulate in about a second, then come from the test's cache folder
FEW_ROOMS = ["reverb_rooms=3", "reverb_distance=[1.0,3.0]"]


def toy_bank(rooms: int = 4):
    """Decaying-noise impulse responses (direct path at sample 40), a different tail each: no simulation."""
    rng = np.random.default_rng(0)
    rirs = []
    for k in range(rooms):
        tail = rng.normal(0, 0.3, 3000) * np.exp(-np.arange(3000) / (300.0 * (k + 1)))
        rirs.append(np.concatenate([np.zeros(40), [1.0], tail]).astype(np.float32))
    return stack_rirs(rirs, [40] * rooms, {})


def speech_like(rows: int) -> torch.Tensor:
    t = torch.arange(SR) / SR
    burst = ((t > 0.2) & (t < 0.6)).float()
    return torch.stack([burst * torch.sin(2 * torch.pi * (300 + 50 * k) * t) * 0.3 for k in range(rows)])


def test_rooms_leave_silence_alone_keep_the_level_and_repeat_with_the_seed():
    waves = speech_like(8)
    waves[7] = 0.0  # a silent clip stays silent
    labels = torch.tensor([0, 2, 3, 4, 5, 6, 7, 8])
    out = RoomsAt(toy_bank(), 0.6, silence_label=0, seed=0)(waves, labels)
    assert torch.equal(out[0], waves[0]) and torch.equal(out[7], waves[7])
    changed = out[1:7]
    assert not torch.allclose(changed, waves[1:7], atol=1e-3)
    assert torch.allclose(changed.square().mean(1).sqrt(), waves[1:7].square().mean(1).sqrt(), rtol=0.02)
    assert torch.all(changed[:, int(0.62 * SR):].abs().sum(1) > 0)  # the tail rings on after the word
    assert torch.equal(RoomsAt(toy_bank(), 0.6, 0, seed=0)(waves, labels), out)
    assert not torch.equal(RoomsAt(toy_bank(), 0.9, 0, seed=0)(waves, labels), out)  # other rooms drawn


def test_the_room_comes_first_and_the_noise_stays_dry(monkeypatch):
    """score_in_rooms' room + noise transform: what it adds to the reverberant clip is the noise itself."""
    waves, labels = speech_like(4), torch.tensor([2, 3, 4, 5])
    segment = torch.randn(1, SR, generator=torch.Generator().manual_seed(3)) * 0.05
    seen = []

    def predict(model, frontend, split, indices, noise, batch_size, device, seed, progress, transform):
        seen.append(transform(waves, labels))
        return labels.numpy(), np.eye(6)[labels.numpy()]

    monkeypatch.setattr(reverb, "predict_split", predict)
    monkeypatch.setattr(reverb, "room_bank", lambda *args: toy_bank())
    monkeypatch.setattr(reverb, "evaluation_indices", lambda split, seed: np.arange(4))
    split = SimpleNamespace(silence_label=0, waves=torch.zeros(4, SR, dtype=torch.int16))
    rows = reverb.score_in_rooms(None, None, list("abcdef"), split, NoiseBank(segment), [0.6], snrs=[10.0])
    assert [r["snr_db"] for r in rows] == [None, 10.0]
    room_only, both = seen
    assert torch.equal(room_only, RoomsAt(toy_bank(), 0.6, 0, seed=0)(waves, labels))
    added = both - room_only
    scale = (added * segment).sum(1) / segment.square().sum()
    # had the noise gone through the room too, the difference would not be a multiple of the segment
    assert torch.allclose(added, scale[:, None] * segment, atol=1e-4) and torch.all(scale > 0)


def eval_config(root, cache, out, *extra: str):
    return compose_config("eval", [f"checkpoint={default_checkpoint('torch')}", f"data.root={root}",
                                   f"data.cache_dir={cache}", "device=cpu", *FEW_ROOMS, *extra], out)


@pytest.fixture
def kept_figures(monkeypatch):
    """The figures the plot functions draw, kept open (plt.close does nothing) to look into."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close, kept = plt.close, []
    monkeypatch.setattr(plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


def test_eval_in_rooms_is_deterministic_and_writes_rows_table_and_plot(synthetic_root, tmp_path, capsys,
                                                                       kept_figures):
    args = ("reverb_rt60=[0.3,0.9]", "noise_snr=[0]")
    first = evaluate(eval_config(synthetic_root, tmp_path / "cache", tmp_path / "a", *args))
    out = capsys.readouterr().out
    again = evaluate(eval_config(synthetic_root, tmp_path / "cache", tmp_path / "b", *args, "plots=false"))
    assert first["reverb"] == again["reverb"]
    rows = first["reverb"]
    assert [(r["rt60_s"], r["snr_db"]) for r in rows] == [(0.3, None), (0.3, 0.0), (0.9, None), (0.9, 0.0)]
    assert all(set(r) == ROW_KEYS and r["distance_m"] == [1.0, 3.0] and r["n"] == first["n"] for r in rows)
    assert any((r["accuracy"], r["macro_f1"]) != (first["accuracy"], first["macro_f1"]) for r in rows)
    assert json.loads((tmp_path / "a" / "report.json").read_text())["reverb"] == rows
    # the table comes after the noise table, a row per condition
    assert out.index("room RT60 0.3 s + 0.0 dB SNR") > out.index("\n0.0 dB SNR") > 0
    assert "room RT60 0.9 s " in out and "talker 1-3 m away" in out
    assert (tmp_path / "a" / "reverb.png").is_file() and not (tmp_path / "b" / "reverb.png").exists()
    axes = [ax for fig in kept_figures for ax in fig.axes if ax.get_xlabel().startswith("RT60")]
    assert len(axes) == 1
    assert "(s" in axes[0].get_xlabel() and "accuracy" in axes[0].get_ylabel()
    assert len(axes[0].get_lines()) >= 4  # room only, room + 0 dB noise, and each without the room


def test_rooms_without_noise_give_the_same_room_rows(synthetic_root, tmp_path):
    """No room + noise rows without noise_snr; the room-only row does not depend on whether noise was asked for."""
    with_noise = evaluate(eval_config(synthetic_root, tmp_path / "cache", tmp_path / "a", "reverb_rt60=[0.3]",
                                      "noise_snr=[0]", "plots=false"))
    alone = evaluate(eval_config(synthetic_root, tmp_path / "cache", tmp_path / "b", "reverb_rt60=[0.3]",
                                 "plots=false"))
    assert [r["snr_db"] for r in alone["reverb"]] == [None]
    assert alone["reverb"][0] == with_noise["reverb"][0]
    assert "noise" not in alone
    clean = evaluate(eval_config(synthetic_root, tmp_path / "cache", tmp_path / "c", "plots=false"))
    assert "reverb" not in clean


def test_table_names_each_condition():
    rows = [{"rt60_s": 0.6, "distance_m": [1.0, 4.0], "snr_db": None, "accuracy": 0.8},
            {"rt60_s": 0.6, "distance_m": [1.0, 4.0], "snr_db": 10.0, "accuracy": 0.7}]
    lines = format_reverb_table(0.9, rows).splitlines()
    assert lines[0].split() == ["condition", "(talker", "1-4", "m", "away)", "accuracy"]
    assert lines[1].split() == ["clean", "0.9000"]
    assert lines[2].rsplit(maxsplit=1) == ["room RT60 0.6 s", "0.8000"]
    assert lines[3].rsplit(maxsplit=1) == ["room RT60 0.6 s + 10.0 dB SNR", "0.7000"]


def test_a_bad_rt60_is_one_config_line_before_anything_is_read(tmp_path, monkeypatch, capsys):
    def must_not_read(*args, **kwargs):
        raise AssertionError("read the checkpoint or the data before checking the config")

    monkeypatch.setattr(evaluate_module, "load_inference", must_not_read)
    monkeypatch.setattr(evaluate_module, "scan_dataset", must_not_read)
    code, _, err = run_main(evaluate_module.main, "speechseq-eval",
                            [f"checkpoint={default_checkpoint('torch')}", f"data.root={tmp_path}",
                             "reverb_rt60=[0.3,5.0]"], tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, "speechseq-eval", "reverb_rt60", "5.0")


def test_only_banks_not_cached_are_counted_as_work_to_come(tmp_path):
    """A training run keeps back time for simulating the test rooms only where they are not cached."""
    few = {"distance": (1.0, 3.0), "rooms": 2, "clip_samples": 4000}
    assert reverb.banks_to_simulate([0.3, 0.6], None, **few) == 2
    assert reverb.banks_to_simulate([0.3, 0.6], tmp_path, **few) == 2
    reverb.room_bank(0.3, few["distance"], few["rooms"], 0, clip_samples=few["clip_samples"], cache_dir=tmp_path)
    assert reverb.banks_to_simulate([0.3, 0.6], tmp_path, **few) == 1
    assert reverb.banks_to_simulate([0.3], tmp_path, seed=1, **few) == 1  # another seed is another bank

"""BatchSource: the staged (host gather -> copy) path gives the same batches as the in-place path."""

import threading

import numpy as np
import pytest
import torch

from speechseq.data.batches import batch_indices
from speechseq.data.loader import BatchSource, choose_on_device, splits_nbytes
from speechseq.data.splits import SILENCE_INDEX, NoiseBank, SplitData


def make_split(n=37, samples=400, n_silence=5):
    g = torch.Generator().manual_seed(0)
    waves = torch.randint(-32768, 32767, (n, samples), generator=g, dtype=torch.int16)
    return SplitData(name="train", waves=waves, labels=torch.arange(n) % 11, paths=[f"{i}.wav" for i in range(n)],
                     keyword_idx=np.arange(n), unknown_idx=np.zeros(0, np.int64), n_unknown=0,
                     n_silence=n_silence, silence_label=11)


def collect(source, split, seed):
    torch.manual_seed(seed)
    batches = batch_indices(split.draw(np.random.default_rng(1)), 8, np.random.default_rng(2))
    return list(source(batches))


def test_staged_and_in_place_paths_give_identical_batches():
    split = make_split()
    noise = NoiseBank(torch.randn(6, 400) * 0.1)
    direct = collect(BatchSource(split, noise, torch.device("cpu"), staged=False), split, seed=3)
    staged = collect(BatchSource(split, noise, torch.device("cpu"), staged=True, prefetch=2), split, seed=3)
    assert len(direct) == len(staged) == 6  # 37 clips + 5 silence slots in batches of 8
    for (wa, la), (wb, lb) in zip(direct, staged):
        assert torch.equal(la, lb) and torch.equal(wa, wb)
    labels = torch.cat([lab for _, lab in staged])
    assert (labels == 11).sum() == 5 and sorted(labels[labels != 11].tolist()) == sorted((torch.arange(37) % 11).tolist())


def test_host_batch_marks_silence_and_gathers_rows():
    split = make_split()
    src = BatchSource(split, NoiseBank(torch.zeros(0, 400)), torch.device("cpu"), staged=True)
    rows, labels, local = src.host_batch(np.array([4, SILENCE_INDEX, 9]))
    assert torch.equal(rows[0], split.waves[4]) and torch.equal(rows[2], split.waves[9])
    assert local.tolist() == [0, SILENCE_INDEX, 2] and labels[2] == split.labels[9]


def test_producer_errors_reach_the_consumer_and_early_exit_stops_the_thread():
    split = make_split()
    src = BatchSource(split, NoiseBank(torch.zeros(0, 400)), torch.device("cpu"), staged=True, prefetch=1)

    def bad_batches():
        yield np.array([0, 1])
        raise IndexError("broken index list")

    with pytest.raises(IndexError, match="broken index list"):
        list(src(bad_batches()))
    before = threading.active_count()
    it = src(np.array([[i, i + 1] for i in range(0, 30, 2)]))
    next(it)
    it.close()  # the consumer stops early (a stop signal); the prefetch thread must end
    assert threading.active_count() <= before


def test_on_device_choice_on_cpu_and_bad_values():
    split = make_split()
    assert splits_nbytes([split]) == split.waves.numel() * 2 + split.labels.numel() * 8
    for mode in ("auto", "true", True, "false", False):
        assert choose_on_device(mode, torch.device("cpu"), [split]) is False
    with pytest.raises(ValueError, match="data.on_device"):
        choose_on_device("sometimes", torch.device("cpu"), [split])


def test_waves_already_on_the_device_are_gathered_in_place():
    split = SplitData("train", torch.zeros(4, 400, dtype=torch.int16), torch.arange(4), [], np.arange(4),
                      np.zeros(0, np.int64), 0, 0, None)
    assert BatchSource(split, NoiseBank(torch.zeros(0, 400)), "cpu").staged is False
    assert BatchSource(split, NoiseBank(torch.zeros(0, 400)), torch.device("cpu")).staged is False

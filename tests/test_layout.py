import shutil

import pytest

from speechseq.data.layout import DatasetError, detect_layout, scan_dataset, which_set
from tests.conftest import write_synthetic_dataset


def test_lists_are_read_not_recomputed(synthetic_root):
    index = scan_dataset(synthetic_root)
    assert index.layout == "lists"
    listed_val = set((synthetic_root / "validation_list.txt").read_text().split())
    listed_test = set((synthetic_root / "testing_list.txt").read_text().split())
    assert {c.relpath for c in index.splits["validation"]} == listed_val
    assert {c.relpath for c in index.splits["test"]} == listed_test
    train = {c.relpath for c in index.splits["train"]}
    assert not train & (listed_val | listed_test)
    n_files = sum(1 for p in synthetic_root.glob("*/*.wav") if p.parent.name != "_background_noise_")
    assert len(train) + len(listed_val) + len(listed_test) == n_files
    assert all("_background_noise_" not in c.relpath for c in index.splits["train"])
    assert [p.name for p in index.noise_files] == ["white_noise.wav"]


def test_mini_set_lists_are_used_verbatim(mini_root):
    index = scan_dataset(mini_root)
    assert len(index.splits["validation"]) == 795
    assert len(index.splits["test"]) == 817
    assert len(index.splits["train"]) == 6364 - 795 - 817


def test_hash_rule_when_there_are_no_lists(tmp_path):
    root = write_synthetic_dataset(tmp_path / "nolists", clips_per_word=6, lists=False)
    index = scan_dataset(root)
    assert index.layout == "hash"
    for split, clips in index.splits.items():
        assert all(which_set(c.relpath) == split for c in clips)
    # the same speaker always lands in the same split
    assert which_set("yes/abc123_nohash_0.wav") == which_set("no/abc123_nohash_4.wav")


def test_which_set_matches_tensorflow_proportions():
    names = [f"w/{i:08x}_nohash_0.wav" for i in range(4000)]
    share = {s: sum(which_set(n) == s for n in names) / len(names) for s in ("train", "validation", "test")}
    assert 0.07 < share["validation"] < 0.13 and 0.07 < share["test"] < 0.13


def test_testset_layout_is_detected(tmp_path):
    root = tmp_path / "testset"
    write_synthetic_dataset(root, clips_per_word=2, words=("yes", "no"), lists=False)
    shutil.rmtree(root / "_background_noise_")
    (root / "_unknown_").mkdir()
    shutil.copy(next((root / "yes").glob("*.wav")), root / "_unknown_" / "x_nohash_0.wav")
    assert detect_layout(root) == "testset"
    index = scan_dataset(root)
    assert len(index.splits["test"]) == 5 and not index.splits["train"]
    assert {c.word for c in index.splits["test"]} == {"yes", "no", "_unknown_"}


def test_missing_root_says_how_to_get_data(tmp_path):
    with pytest.raises(DatasetError, match="speechseq-data download"):
        scan_dataset(tmp_path / "nope")


def test_folder_without_word_folders_is_rejected(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match="not a Speech Commands folder"):
        scan_dataset(tmp_path)


def test_lists_naming_missing_files_are_an_error(tmp_path):
    root = write_synthetic_dataset(tmp_path / "broken", clips_per_word=3, words=("yes",))
    with open(root / "testing_list.txt", "a") as fh:
        fh.write("yes/deadbeef_nohash_9.wav\n")
    with pytest.raises(DatasetError, match="1 file.*deadbeef"):
        scan_dataset(root)

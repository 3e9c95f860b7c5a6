import pytest

from speechseq.labels import COMMANDS_10, SILENCE, UNKNOWN, WORDS_V2_35, make_label_set


def test_v2_12_has_silence_unknown_first_then_the_ten_commands():
    ls = make_label_set("v2_12")
    assert ls.names == [SILENCE, UNKNOWN, *COMMANDS_10]
    assert len(ls) == 12
    assert ls.label_for_word("yes") == 2
    assert ls.label_for_word("marvin") == ls.index(UNKNOWN)


def test_v2_35_has_every_word_and_no_unknown_class():
    ls = make_label_set("v2_35")
    assert len(WORDS_V2_35) == 35 and len(ls) == 36
    assert UNKNOWN not in ls.names
    assert all(ls.label_for_word(w) is not None for w in WORDS_V2_35)


def test_custom_words_map_other_words_to_unknown():
    ls = make_label_set("custom", ["marvin", "sheila"])
    assert ls.names == [SILENCE, UNKNOWN, "marvin", "sheila"]
    assert ls.label_for_word("yes") == 1


@pytest.mark.parametrize("task,words", [("custom", None), ("custom", ["a", "a"]), ("v3", None)])
def test_bad_label_sets_are_rejected(task, words):
    with pytest.raises(ValueError):
        make_label_set(task, words)

"""Label sets: the 12-class task (10 commands + silence + unknown), all 35 words, or custom words."""

from __future__ import annotations

from dataclasses import dataclass

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"

COMMANDS_10 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

# Speech Commands v0.02 vocabulary (v0.01 lacks the last five).
WORDS_V2_35 = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual",
    "wow", "yes", "zero",
)


@dataclass(frozen=True)
class LabelSet:
    """The classes a model predicts, in index order.

    `words` are the keywords; `use_silence` / `use_unknown` add the two extra classes in
    front, as TensorFlow's speech_commands does (silence is index 0, unknown index 1).
    """

    words: tuple[str, ...]
    use_silence: bool = True
    use_unknown: bool = True

    @property
    def names(self) -> list[str]:
        extra = [SILENCE] * self.use_silence + [UNKNOWN] * self.use_unknown
        return extra + list(self.words)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def label_for_word(self, word: str) -> int | None:
        """Class index of a clip recorded for `word`: the word itself, unknown, or None (skip)."""
        if word in self.words:
            return self.names.index(word)
        if self.use_unknown:
            return self.names.index(UNKNOWN)
        return None

    @property
    def non_keyword_names(self) -> set[str]:
        return {SILENCE, UNKNOWN}


def make_label_set(task: str, words: list[str] | None = None) -> LabelSet:
    """`v2_12`: 10 commands + silence + unknown; `v2_35`: every word + silence; `custom`: `words`."""
    if task == "v2_12":
        return LabelSet(COMMANDS_10)
    if task == "v2_35":
        return LabelSet(WORDS_V2_35, use_silence=True, use_unknown=False)
    if task == "custom":
        if not words:
            raise ValueError("data.task=custom needs data.words=[word, ...]")
        if len(set(words)) != len(words):
            raise ValueError(f"data.words has duplicates: {list(words)}")
        return LabelSet(tuple(words))
    raise ValueError(f"unknown data.task {task!r}: choose v2_12, v2_35 or custom")

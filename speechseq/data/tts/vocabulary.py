"""What the synthetic negatives say: near-misses of each command, a general English vocabulary,
two-word phrases; and what they must never say.

Near-misses are words one phoneme (sometimes two) from a command, found with espeak-ng's phonemes
(`speechseq.data.tts.phonemes.phoneme_distance` over the word list) and picked by hand for common
words. Left out on purpose, though issue 31 names some of them:
- exact homophones: "write", "rite" and "wright" sound exactly like "right", "know" like "no"; as
  `_unknown_` they would teach the model to refuse the command itself;
- words that hold a command whole beside another syllable (phonemes.command_heard_in): "ago" is
  heard as "a go", "stopwatch" as "stop watch", "going", "nobody", "upstairs".
Words that change or add a sound inside the command's syllable stay (nose, snow, cup, goes, stops).

The general vocabulary is `general_words.txt`: 10,000 words of SCOWL's American English list
(Debian's wamerican-small, /usr/share/dict/american-english-small; permissive licence, its notice
is at the top of the file), with the rule above applied, made by `scripts/build_tts_words.py`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files

from speechseq.labels import COMMANDS_10

HOMOPHONES: dict[str, tuple[str, ...]] = {"right": ("write", "rite", "wright"), "no": ("know",)}

NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "yes": ("yet", "guess", "yeah", "yell", "yep", "yen", "less", "mess", "chess", "use", "bless", "dress",
            "press", "jest", "says", "nest", "test"),
    "no": ("nose", "snow", "note", "known", "now", "new", "knee", "nope", "node", "gnome", "low", "though",
           "so", "show", "toe", "dough", "oh", "owe", "row", "sew", "near", "nor", "neigh", "slow", "flow"),
    "up": ("cup", "pup", "of", "ape", "app", "us", "yup", "uh", "hop", "pop", "cap", "jump", "sup", "ups"),
    "down": ("town", "dawn", "gown", "noun", "drown", "done", "den", "dine", "don", "dune", "doubt", "darn",
             "douse", "brown", "crown", "clown", "frown", "downs"),
    "left": ("lift", "lest", "lent", "let", "loft", "theft", "deft", "cleft", "heft", "laughed", "leapt",
             "felt", "belt", "west", "leaf", "lefts"),
    "right": ("light", "ride", "bright", "fight", "night", "might", "sight", "white", "bite", "kite", "rice",
              "rise", "ripe", "rate", "rot", "wrote", "root", "route", "rat", "riot", "rhyme", "writ", "tight",
              "height", "fright", "rye", "rights"),
    "on": ("an", "in", "own", "gone", "earn", "iron", "inn", "urn", "upon", "one", "con", "yawn", "lawn"),
    "off": ("cough", "if", "of", "oaf", "oft", "scoff", "doff", "ought", "soft", "offs"),
    "stop": ("shop", "top", "atop", "step", "stock", "stomp", "stoop", "slop", "swap", "steep", "drop",
             "crop", "chop", "spot", "stops", "stopped"),
    "go": ("goat", "goal", "goes", "glow", "grow", "gold", "ghost", "toe", "low", "so", "show", "though", "guy",
           "gay", "goo", "gore", "owe", "oh", "row", "slow", "crow", "coat", "code"),
}


@lru_cache(maxsize=1)
def general_words() -> tuple[str, ...]:
    """The packaged general vocabulary (lines starting with # are its licence notice)."""
    text = files("speechseq.data.tts").joinpath("general_words.txt").read_text(encoding="utf-8")
    return tuple(w for w in (line.strip() for line in text.splitlines()) if w and not w.startswith("#"))


def never_negative(exclude: tuple[str, ...] = ()) -> set[str]:
    """Words no negative may say: the commands, their homophones, and `exclude` (a model's own words)."""
    banned = set(COMMANDS_10) | {h for words in HOMOPHONES.values() for h in words}
    for phrase in exclude:  # a folder name "lights_on" bans "lights on", "lights" and "on"
        spoken = phrase.replace("_", " ").replace("-", " ").lower().split()
        banned |= set(spoken) | {" ".join(spoken)}
    return banned


def near_miss_words(exclude: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """command -> its near-misses, without the banned words."""
    banned = never_negative(exclude)
    return {c: tuple(w for w in words if w not in banned) for c, words in NEAR_MISSES.items()}


def general_vocabulary(exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    banned = never_negative(exclude)
    return tuple(w for w in general_words() if w not in banned)


def vocabulary_digest(exclude: tuple[str, ...] = ()) -> str:
    """A short hash of every word the negatives may say (part of the corpus cache key)."""
    h = hashlib.sha1()
    for command, words in sorted(near_miss_words(exclude).items()):
        h.update(f"{command}:{','.join(words)}|".encode())
    h.update(",".join(general_vocabulary(exclude)).encode())
    return h.hexdigest()[:12]

"""speechseq: keyword spotting on Google Speech Commands with stacked (Bi)LSTMs."""

__version__ = "0.1.0"

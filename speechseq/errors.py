"""Errors a user causes and can fix, defined here so the console scripts' one-line handler
(`speechseq.cli`) knows them without importing the stages that raise them.

They are the standard classes underneath: a checkpoint that cannot be used is a ValueError, one that
is not there a FileNotFoundError, so an application catches them as it catches any other.
The rest live beside their single owner: `AudioReadError` (audio), `ConfigError` (config.checks),
`OutputWriteError` (fsutil).
"""


class DatasetError(Exception):
    """The data folder cannot be used; the message says what is wrong and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message says why."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No model at the path given (nothing there, or a folder without a model in it)."""

"""Errors a user causes and can fix, defined here so the console scripts' one-line handler
(`speechseq.cli`) knows them without importing the stages that raise them.

The rest live beside their single owner: `AudioReadError` (audio), `ConfigError` (config.checks),
`OutputWriteError` (fsutil).
"""


class DatasetError(Exception):
    """The data folder cannot be used; the message says what is wrong and how to fix it."""


class CheckpointError(Exception):
    """A checkpoint that cannot be used here; the message says why."""

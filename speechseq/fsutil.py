"""Crash-safe file writes: temporary file in the same folder, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator


class OutputWriteError(OSError):
    """An output folder or file that cannot be written (unwritable, not a folder, disk full)."""


def ensure_writable_dir(folder: str | Path, what: str = "output folder",
                        fix: str = "choose a writable place with hydra.run.dir=<folder>") -> Path:
    """Create `folder` and prove a file can be written there, or raise OutputWriteError saying why and `fix`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputWriteError(f"cannot write to the {what} {folder}: {why_unwritable(folder, exc)}; {fix}") from None
    return folder


def why_unwritable(folder: Path, exc: OSError) -> str:
    """Why no file can be written in `folder`, in words that name the folder (never a temporary file)."""
    existing = folder
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():
        return f"{existing} is a link to a missing place"
    if existing.exists() and not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing != folder:
        return f"the folder {folder} does not exist and cannot be created in {existing} ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    return f"{exc.strerror or exc} in {folder}"


def portable_name(path: str | Path, parts: int = 1) -> str:
    """The last `parts` names of `path` ("validation_loud/stream.wav" for parts=2), for metadata that
    ships with a model and so must not carry the folders of the machine it was made on."""
    names = [p for p in Path(path).parts if p not in (Path(path).anchor, "..", ".")]
    return "/".join(names[-parts:])


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporary files that `atomic_path` left behind when a process was killed mid-write."""
    stale = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash or error at any moment leaves either the old file or the new one, never half of
    either; the temporary file is removed on error.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {path}: {why_unwritable(path.parent, exc)}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600, and so do writers that make the file anew (safetensors' save_file): give the
        # usual mode once the file is written
        os.chmod(tmp_path, 0o666 & ~_umask())
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        # The temporary name means nothing to the user: say which file could not be written, and why.
        if tmp_path.name in f"{exc.filename} {exc.filename2} {exc}" and not isinstance(exc, OutputWriteError):
            raise OutputWriteError(f"cannot write {path}: {why_unwritable(path.parent, exc)}") from None
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Shared bits of the console scripts: Hydra entry points, one-line errors, a bad command line refused
(speechseq.config.command_line), and no empty run folder left behind by a run that failed."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable

import hydra

from speechseq.config import PACKAGE_CONF_DIR, register_configs
from speechseq.config.command_line import (  # noqa: F401  (importable from here, as they always were)
    known_keys,
    refuse_bad_command_line,
    refuse_unknown_keys,
    script_name,
    unknown_key_problem,
)

log = logging.getLogger("speechseq")


def expected_errors() -> tuple[type[BaseException], ...]:
    from omegaconf.errors import OmegaConfBaseException

    from speechseq.audio import AudioReadError
    from speechseq.config import ConfigError
    from speechseq.errors import CheckpointError, DatasetError

    return (DatasetError, ConfigError, AudioReadError, CheckpointError, OmegaConfBaseException, OSError,
            RuntimeError, ValueError)


def quiet_broken_pipe() -> None:
    """Exit 1 without a traceback when stdout's reader has gone (Python would complain at exit too)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)


def run_guarded(prog: str, fn: Callable[[], int | None], debug: bool = False) -> None:
    """Run `fn`; a known failure prints one line and exits 2 (debug=true shows the traceback).

    Ctrl-C outside the training loop (which handles it itself) exits 130 without a traceback.
    """
    debug = debug or os.environ.get("SPEECHSEQ_DEBUG") == "1"
    from omegaconf.errors import MissingMandatoryValue

    try:
        code = fn()
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        quiet_broken_pipe()
    except MissingMandatoryValue as exc:
        if debug:
            raise
        key = getattr(exc, "full_key", None) or "a required setting"
        print(f"{prog}: error: {key} is required: pass {key}=...", file=sys.stderr)
        remove_unused_run_dir()
        sys.exit(2)
    except expected_errors() as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message} (debug=true shows the traceback)", file=sys.stderr)
        remove_unused_run_dir()
        sys.exit(2)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    if code:
        sys.exit(code)


def is_empty_folder(path) -> bool:
    """A folder with no file anywhere under it (e.g. the checkpoints/ a run made before it failed)."""
    return path.is_dir() and not any(p.is_file() or p.is_symlink() for p in path.rglob("*"))


def remove_unused_run_dir() -> None:
    """A run that failed before it wrote anything leaves no runs/<app>/<date>/ behind.

    Only a folder Hydra made under the working directory for this run, holding nothing but Hydra's
    own files (.hydra/, the job's log) and empty folders, is removed, with the parents it leaves
    empty (runs/eval, runs)."""
    import shutil
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    cwd, out = Path.cwd().resolve(), Path(hc.runtime.output_dir).resolve()
    if cwd not in out.parents or not out.is_dir():
        return
    own = {hc.output_subdir, f"{hc.job.name}.log"}
    if any(entry.name not in own and not is_empty_folder(entry) for entry in out.iterdir()):
        return
    root = logging.getLogger()
    for handler in list(root.handlers):  # the job's log file is closed before its folder goes
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).resolve().parent == out:
            handler.close()
            root.removeHandler(handler)
    shutil.rmtree(out, ignore_errors=True)
    for parent in out.parents:
        if parent == cwd or not parent.is_dir() or any(parent.iterdir()):
            break
        parent.rmdir()


def hydra_entry(config_name: str) -> Callable:
    """`@hydra.main` over the package's config folder, schemas registered; an unknown key is one line, exit 2."""
    register_configs()
    hydra_main = hydra.main(version_base="1.3", config_path=str(PACKAGE_CONF_DIR), config_name=config_name)

    def decorate(task: Callable) -> Callable:
        hydra_task = hydra_main(task)

        @functools.wraps(task)
        def entry(cfg_passthrough=None):
            if cfg_passthrough is None:
                refuse_bad_command_line(config_name, sys.argv[1:])
            try:
                return hydra_task(cfg_passthrough)
            except BrokenPipeError:  # `--help | head`: Hydra printed into a closed pipe; stop quietly
                quiet_broken_pipe()

        return entry

    return decorate

"""Shared bits of the console scripts: Hydra entry points and one-line errors."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

import hydra

from speechseq.config import PACKAGE_CONF_DIR, register_configs

log = logging.getLogger("speechseq")


def expected_errors() -> tuple[type[BaseException], ...]:
    from omegaconf.errors import OmegaConfBaseException

    from speechseq.audio import AudioReadError
    from speechseq.config import ConfigError
    from speechseq.errors import CheckpointError, DatasetError

    return (DatasetError, ConfigError, AudioReadError, CheckpointError, OmegaConfBaseException, OSError,
            RuntimeError, ValueError)


def run_guarded(prog: str, fn: Callable[[], int | None], debug: bool = False) -> None:
    """Run `fn`; a known failure prints one line and exits 2 (debug=true shows the traceback).

    Ctrl-C outside the training loop (which handles it itself) exits 130 without a traceback.
    """
    debug = debug or os.environ.get("SPEECHSEQ_DEBUG") == "1"
    from omegaconf.errors import MissingMandatoryValue

    try:
        code = fn()
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except MissingMandatoryValue as exc:
        if debug:
            raise
        key = getattr(exc, "full_key", None) or "a required setting"
        print(f"{prog}: error: {key} is required: pass {key}=...", file=sys.stderr)
        sys.exit(2)
    except expected_errors() as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message} (debug=true shows the traceback)", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    if code:
        sys.exit(code)


def hydra_entry(config_name: str) -> Callable:
    """`@hydra.main` over the package's config folder, with the schemas registered."""
    register_configs()
    return hydra.main(version_base="1.3", config_path=str(PACKAGE_CONF_DIR), config_name=config_name)

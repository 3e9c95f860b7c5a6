"""Shared bits of the console scripts: Hydra entry points, one-line errors, unknown keys refused."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable

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


# --- unknown keys: one line before Hydra starts, not its six lines (or a silent `+key`) ---

SCRIPT_NAMES = {"data_tool": "speechseq-data"}  # config name -> console script, where they differ
SUGGESTION_CUTOFF = 0.6  # difflib similarity a known key needs to be offered as "did you mean"


def script_name(config_name: str) -> str:
    return SCRIPT_NAMES.get(config_name, f"speechseq-{config_name}")


def command_line_overrides(argv: list[str]) -> list | None:
    """The parsed `key=value` arguments of a Hydra command line; None where Hydra should judge it.

    Raises on a malformed command line (refuse_unknown_keys leaves that to Hydra's own message)."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if "--version" in argv:
        return None
    parser = get_args_parser()

    def leave_to_hydra(message: str):
        raise ValueError(message)

    parser.error = leave_to_hydra  # argparse would print its usage and exit: Hydra will do that
    args, _ = parser.parse_known_args(argv)
    # another config folder or primary config: its keys are not the package's
    if args.shell_completion or args.config_path or args.config_dir or args.config_name:
        return None
    return OverridesParser.create().parse_overrides(overrides=args.overrides)


def is_hydra_override(override) -> bool:
    """hydra.* keys and hydra/... groups are Hydra's own to check."""
    key = override.key_or_group
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def group_choice_line(override) -> str:
    """The override as compose() takes it; a sweep (`model=lstm,bigru`) by its first choice."""
    if not override.is_sweep_override():
        return override.input_line
    return f"{override.get_key_element()}={next(iter(override.sweep_string_iterator()))}"


def compose_with_groups(config_name: str, overrides: list) -> tuple[object, list, list[str]] | None:
    """(config composed with the group choices given, the other overrides, the app's groups)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = [o for o in overrides if loader.repository.group_exists(o.key_or_group)]
        keys = [o for o in overrides if o not in groups]
        if not keys:
            return None
        cfg = compose(config_name=config_name, overrides=[group_choice_line(o) for o in groups])
        group_names = [g for g in loader.list_groups("") if g != "hydra"]
    return cfg, keys, group_names


def known_keys(node, prefix: str = "") -> list[str]:
    """Every dotted key of a composed config, inner nodes included."""
    from omegaconf import DictConfig

    keys = []
    if isinstance(node, DictConfig) and not (node._is_none() or node._is_missing() or node._is_interpolation()):
        for name in node.keys():
            key = f"{prefix}{name}"
            keys += [key, *known_keys(node._get_node(name), f"{key}.")]
    return keys


def is_open_map(node) -> bool:
    """A schema field typed Dict[...] (stream.class_thresholds): `+` may add entries to it."""
    from typing import Any

    from omegaconf import DictConfig

    if not isinstance(node, DictConfig):
        return False
    return node._metadata.object_type is dict and node._metadata.ref_type is not Any  # Any: a plain YAML dict


def child_of(node, name: str):
    """The node under `name`, or None where there is none."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(node, DictConfig):
        return node._get_node(name) if name in node.keys() else None  # `in node` misses ??? values
    if isinstance(node, ListConfig):
        return node._get_node(int(name)) if name.isdigit() and int(name) < len(node) else None
    return None


def key_problem(cfg, override, suggestions: list[str]) -> str | None:
    """What is wrong with the key of `override` in `cfg`, in one line; None if it is known."""
    import difflib

    from omegaconf import Container

    key, node = override.key_or_group, cfg
    for depth, name in enumerate(key.split(".")):
        if isinstance(node, Container) and (node._is_none() or node._is_missing() or node._is_interpolation()):
            return None  # nothing below to check against: Hydra's own checks apply
        child = child_of(node, name)
        if child is None and is_open_map(node):
            if override.is_add() or override.is_force_add():
                return None
            return f"{key} is a new entry of {'.'.join(key.split('.')[:depth])}: write +{override.input_line}"
        if child is None:
            close = difflib.get_close_matches(key, suggestions, n=1, cutoff=SUGGESTION_CUTOFF)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"unknown key {key} in '{override.input_line}'{hint} (--cfg job lists every key)"
        node = child
    return None


def unknown_key_problem(config_name: str, argv: list[str]) -> str | None:
    """The first override of `argv` naming no key of the app's config, as one line; None if all are known."""
    overrides = command_line_overrides(argv)
    overrides = [o for o in overrides or [] if not is_hydra_override(o)]
    if not overrides:
        return None
    composed = compose_with_groups(config_name, overrides)
    if composed is None:
        return None
    cfg, keys, group_names = composed
    suggestions = known_keys(cfg) + group_names
    for override in keys:
        problem = key_problem(cfg, override, suggestions)
        if problem:
            return problem
    return None


def refuse_unknown_keys(config_name: str, argv: list[str]) -> None:
    """Exit 2 with one line on stderr if an override of `argv` names no key of the app."""
    try:
        problem = unknown_key_problem(config_name, argv)
    except Exception:  # a malformed override, a wrong group choice: Hydra's own message says what and where
        if os.environ.get("SPEECHSEQ_DEBUG") == "1":
            raise
        problem = None
    if problem:
        print(f"{script_name(config_name)}: error: {problem}", file=sys.stderr)
        sys.exit(2)


def hydra_entry(config_name: str) -> Callable:
    """`@hydra.main` over the package's config folder, schemas registered; an unknown key is one line, exit 2."""
    register_configs()
    hydra_main = hydra.main(version_base="1.3", config_path=str(PACKAGE_CONF_DIR), config_name=config_name)

    def decorate(task: Callable) -> Callable:
        hydra_task = hydra_main(task)

        @functools.wraps(task)
        def entry(cfg_passthrough=None):
            if cfg_passthrough is None:
                refuse_unknown_keys(config_name, sys.argv[1:])
            try:
                return hydra_task(cfg_passthrough)
            except BrokenPipeError:  # `--help | head`: Hydra printed into a closed pipe; stop quietly
                quiet_broken_pipe()

        return entry

    return decorate

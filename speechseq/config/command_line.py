"""The command line of a console script, checked before Hydra starts: each known mistake is one line.

- a bare argument (`speechseq-stream clip.wav`, Hydra's "missing EQUAL"): the key it most likely
  belongs to is suggested (`input=clip.wav`);
- a misspelt group option (`stream=defualt`, `experiment=mnii`): the group's options;
- an unknown key, in any form: a "did you mean" (`stream.treshold=0.5`);
- a value the schema refuses (`stream.threshold=high`): the key and why.
Anything else is left to Hydra's own message. `speechseq.cli.hydra_entry` runs `refuse_bad_command_line`.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

from speechseq.config import PACKAGE_CONF_DIR

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


def compose_with_groups(config_name: str, overrides: list) -> tuple[object, list, list[str]]:
    """(config composed with the group choices given, the other overrides, the app's groups).

    A group option that does not exist raises Hydra's MissingConfigException."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = [o for o in overrides if loader.repository.group_exists(o.key_or_group)]
        keys = [o for o in overrides if o not in groups]
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
    cfg, keys, group_names = compose_with_groups(config_name, overrides)
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
    except Exception:  # a malformed override, a wrong group choice: refuse_bad_command_line says what
        if os.environ.get("SPEECHSEQ_DEBUG") == "1":
            raise
        problem = None
    if problem:
        print(f"{script_name(config_name)}: error: {problem}", file=sys.stderr)
        sys.exit(2)


# --- the rest of a command line: bare arguments, group options, values ---

SOUND_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".raw", ".pcm")
MODEL_SUFFIXES = (".safetensors", ".onnx")


def bare_key(config_name: str, arg: str) -> str | None:
    """The key a bare argument most likely belongs to, by what it looks like and what the app takes."""
    keys = set(known_keys(compose_app(config_name)))
    suffix = Path(arg).suffix.lower()
    if suffix in MODEL_SUFFIXES or (suffix == ".pt" and "trainer.resume" not in keys):
        candidates = ["checkpoint"]
    elif suffix == ".pt":
        candidates = ["trainer.resume"]
    elif suffix in SOUND_SUFFIXES or arg == "-":
        candidates = ["input"]
    else:  # a folder, or a word
        candidates = ["input", "data.root", "root", "out", "checkpoint"] if Path(arg).is_dir() else ["input", "data.root", "root"]
    return next((k for k in candidates if k in keys), None)


def compose_app(config_name: str):
    """The app's config as shipped (no overrides)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name)


def bare_argument_problem(config_name: str, argv: list[str]) -> str | None:
    """A command-line argument that is no key=value (Hydra: "missing EQUAL"), with the likely fix."""
    from hydra._internal.utils import get_args_parser

    args, _ = get_args_parser().parse_known_args(argv)
    if args.config_path or args.config_dir or args.config_name:
        return None
    for arg in args.overrides:
        if "=" in arg or arg.startswith("~"):
            continue
        key = bare_key(config_name, arg)
        fix = f"did you mean {key}={arg}?" if key else f"{script_name(config_name)} --help lists the keys"
        return f"'{arg}' is not key=value; {fix}"
    return None


def composition_problem(exc: Exception) -> str | None:
    """One line for Hydra's composition errors a user makes; None for the rest (Hydra's own message)."""
    from hydra.errors import ConfigCompositionException, MissingConfigException

    if isinstance(exc, MissingConfigException) and getattr(exc, "missing_cfg_file", None):
        group, _, option = str(exc.missing_cfg_file).rpartition("/")
        options = list(getattr(exc, "options", None) or [])
        if not group or not options:
            return None
        close = difflib.get_close_matches(option, options, n=1, cutoff=SUGGESTION_CUTOFF)
        return (f"{group}={option}: no such option of {group}; choose from {', '.join(options)}"
                + (f" (did you mean {group}={close[0]}?)" if close else ""))
    if isinstance(exc, ConfigCompositionException):
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        override = message.removeprefix("Error merging override ").strip()
        cause = exc.__cause__
        if cause is not None and str(cause).strip():
            return f"{override}: {str(cause).strip().splitlines()[0]}"
        return message
    return None


def value_problem(config_name: str, argv: list[str]) -> str | None:
    """Compose the app with every override (a sweep by its first value): the first refused one, in a line."""
    from hydra import compose, initialize_config_dir

    overrides = [o for o in command_line_overrides(argv) or [] if not is_hydra_override(o)]
    if not overrides:
        return None
    try:
        with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
            compose(config_name=config_name, overrides=[group_choice_line(o) for o in overrides])
    except Exception as exc:  # noqa: BLE001  (composition_problem picks the ones it knows)
        return composition_problem(exc)
    return None


def command_line_problem(config_name: str, argv: list[str]) -> str | None:
    """The first known mistake on the command line, as one line; None when Hydra may go on."""
    try:
        return (bare_argument_problem(config_name, argv) or unknown_key_problem(config_name, argv)
                or value_problem(config_name, argv))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("SPEECHSEQ_DEBUG") == "1":
            raise
        return composition_problem(exc)  # a wrong group option; anything else: Hydra's own message


def refuse_bad_command_line(config_name: str, argv: list[str]) -> None:
    """Exit 2 with one line on stderr for a known mistake on the command line (see the module docstring)."""
    problem = command_line_problem(config_name, argv)
    if problem:
        print(f"{script_name(config_name)}: error: {problem}", file=sys.stderr)
        sys.exit(2)

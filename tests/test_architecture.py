"""The package's layout rules (docs/architecture.md): imports run one way, down the pipeline;
modules and functions stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "speechseq"

# Which rooms each room may import (besides itself). "core" is the top-level modules
# (audio, labels, errors, fsutil, progress, stats, config, cli, device). Nothing imports bench.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "data": {"core"},
    "features": {"core"},
    "augment": {"core", "data", "features"},
    "models": {"core"},
    "deploy": {"core", "features", "models"},
    "streaming": {"core", "data", "features", "models", "deploy"},
    "evaluation": {"core", "data", "features", "augment", "models", "deploy", "streaming"},
    "training": {"core", "data", "features", "augment", "models", "deploy", "streaming", "evaluation"},
    "serve": {"core", "features", "models", "deploy", "streaming"},
    "bench": {"core", "data", "features", "augment", "models", "deploy", "streaming", "evaluation", "training"},
}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def room_of_module(dotted: str) -> str | None:
    """speechseq.models.spec -> models; speechseq.audio -> core; anything else -> None."""
    parts = dotted.split(".")
    if parts[0] != "speechseq":
        return None
    if len(parts) > 1 and parts[1] in ALLOWED:
        return parts[1]
    return "core"


def room_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return room_of_module(".".join(rel.parts))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module) of every import, at any depth (lazy imports in functions count)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "speechseq":  # from speechseq import models
                found += [(node.lineno, f"speechseq.{alias.name}") for alias in node.names]
    return found


def layering_violations(path: Path, tree: ast.AST) -> list[str]:
    room = room_of_file(path)
    bad = []
    for line, module in imported_modules(tree):
        target = room_of_module(module)
        if target is None or target == room or target in ALLOWED[room]:
            continue
        if room == "core" and path.name == "__init__.py" and target not in {"training", "bench"}:
            continue  # the public API facade re-exports from the rooms, lazily
        bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {room} imports {module} ({target})")
    return bad


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_known_room():
    for path in package_files():
        assert room_of_file(path) in ALLOWED


def test_imports_run_down_the_pipeline():
    bad = []
    for path in package_files():
        bad += layering_violations(path, ast.parse(path.read_text()))
    assert not bad, "imports against docs/architecture.md:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, room, expect_bad", [
    ("from speechseq.training.train import train", "deploy/onnx_runtime.py", True),
    ("def f():\n    import speechseq.bench.data\n", "training/train.py", True),
    ("from speechseq import training", "streaming/listen.py", True),
    ("from speechseq.models.spec import ModelSpec", "deploy/checkpoint.py", False),
    ("from speechseq.audio import read_audio", "data/cache.py", False),
    ("from speechseq.data.layout import Clip", "audio.py", True),
])
def test_the_check_catches_an_upward_import(source, room, expect_bad):
    bad = layering_violations(PACKAGE / room, ast.parse(source))
    assert bool(bad) == expect_bad, bad


def test_at_most_about_eight_modules_at_the_top():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 9, top


def test_every_room_says_what_it_owns():
    for room in ALLOWED:
        if room == "core":
            continue
        init = PACKAGE / room / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 12, f"{init} needs a docstring saying what the room owns"


def test_modules_and_functions_stay_small():
    too_long = []
    for path in package_files():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE.parent)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)

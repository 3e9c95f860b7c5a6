"""What a newcomer meets first: each console script's --help, and unknown keys refused in one line."""

from __future__ import annotations

import re
import subprocess
from functools import cache

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from speechseq.cli import (
    known_keys,
    refuse_unknown_keys,
    script_name,
    unknown_key_problem,
)
from speechseq.config import PACKAGE_CONF_DIR, register_configs
from tests.console import assert_one_error_line, quiet_env, script_command

APPS = ("train", "eval", "data_tool", "export", "stream", "listen", "record", "bench", "serve")
ALL_GROUPS = {p.name for p in PACKAGE_CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra"}


@cache
def composed(app: str):
    """The app's config with Hydra's node (read only: it is shared between tests)."""
    register_configs()
    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        return compose(config_name=app, return_hydra_config=True)


def app_groups(app: str) -> dict[str, set[str]]:
    """The config groups in the app's defaults list, each with the options its folder holds."""
    defaults = OmegaConf.to_container(OmegaConf.load(PACKAGE_CONF_DIR / f"{app}.yaml"))["defaults"]
    names = [next(iter(entry)) for entry in defaults if isinstance(entry, dict)]
    return {name: {p.stem for p in (PACKAGE_CONF_DIR / name).glob("*.yaml")}
            for name in names if not name.startswith("override")}


def section(help_text: str, title: str) -> list[str]:
    """The lines under `== title ... ==` up to the next blank line."""
    lines = help_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"== {title}")), None)
    if start is None:
        return []
    body = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        body.append(line)
    return body


def listed_groups(help_text: str) -> dict[str, set[str]]:
    found = {}
    for line in section(help_text, "Config groups"):
        name, options = re.match(r"\s+(\w+): ([\w, ]+?)(?:\s{2,}|$)", line).groups()
        found[name] = {o.strip() for o in options.split(",")}
    return found


def app_help(app: str) -> str:
    return composed(app).hydra.help.template


@pytest.mark.parametrize("app", APPS)
def test_help_lists_exactly_the_apps_groups_with_their_options(app):
    assert listed_groups(app_help(app)) == app_groups(app)


@pytest.mark.parametrize("app", APPS)
def test_help_describes_the_command_and_gives_examples(app):
    text = app_help(app)
    first = text.splitlines()[0]
    assert first.startswith(f"{script_name(app)}: ") and len(first) > len(script_name(app)) + 20
    examples = section(text, "Examples")
    assert 2 <= len(examples) <= 3 and any(script_name(app) in line for line in examples)
    assert "powered by Hydra" not in text and "--cfg job" in text and "--hydra-help" in text


@pytest.mark.parametrize("app", APPS)
def test_every_key_the_help_names_is_a_key_of_the_app(app):
    """Every `key=` under Main keys and Actions must exist in the composed config."""
    keys = set(known_keys(composed(app))) | {"hydra.run.dir"}
    named = set()
    for line in section(app_help(app), "Main keys") + section(app_help(app), "Actions"):
        named |= set(re.findall(r"(?:^|[\s(])([a-z_][\w.]*)=", line))
    assert named and named <= keys, named - keys


# --- unknown keys ---

@pytest.mark.parametrize("arg", ["stream.treshold=0.5", "+stream.treshold=0.5", "++stream.treshold=0.5",
                                 "~stream.treshold"])
def test_unknown_key_in_every_form_is_one_line_exit_2(arg, capsys):
    with pytest.raises(SystemExit) as exc:
        refuse_unknown_keys("stream", ["input=x.wav", arg])
    assert exc.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "speechseq-stream", "stream.treshold",
                          "did you mean stream.threshold?")


@pytest.mark.parametrize("app,arg,suggestion", [
    ("stream", "thresold=0.5", "stream.threshold"),
    ("train", "hidden_size=256", "model.hidden_size"),
    ("train", "modle=lstm", "model"),
    ("data_tool", "+rot=DIR", "root"),
    ("serve", "serve.max_client=2", "serve.max_clients"),
])
def test_a_close_key_is_suggested(app, arg, suggestion):
    assert f"did you mean {suggestion}?" in unknown_key_problem(app, [arg])


def test_a_new_map_entry_needs_a_plus():
    problem = unknown_key_problem("stream", ["stream.class_thresholds.yes=0.6"])
    assert "+stream.class_thresholds.yes=0.6" in problem
    assert unknown_key_problem("stream", ["+stream.class_thresholds.yes=0.6"]) is None


@pytest.mark.parametrize("app,argv", [
    ("stream", ["input=-", "stream.threshold=0.5", "runtime=numpy", "stream=default"]),
    ("stream", ["--cfg", "job", "+stream.class_thresholds={high: 0.8}", "++stream.threshold=0.4"]),
    ("train", ["model=lstm", "experiment=mini", "data.words=[yes,no]", "hydra.run.dir=/tmp/x"]),
    ("train", ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=lstm,bigru",
               "model.hidden_size=64,128", "trainer.seed=range(0,3)"]),
    ("train", ["-m", "hparams_search=mini_optuna", "experiment=mini", "hydra.sweeper.n_trials=2"]),
    ("eval", ["checkpoint=x.safetensors", "noise_snr=[20,10]", "mode=stream", "data.layout=testset"]),
    ("data_tool", ["action=verify", "root=DIR", "version=v0.01"]),
])
def test_known_keys_group_choices_and_hydra_keys_pass(app, argv):
    assert unknown_key_problem(app, argv) is None


# --- the installed console scripts, as a user runs them ---

@pytest.fixture(scope="module")
def help_outputs() -> dict[str, tuple[int, str, str]]:
    """(exit code, stdout, stderr) of every script's --help, started together (each pays its own imports)."""
    procs = {app: subprocess.Popen(script_command(script_name(app)) + ["--help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=quiet_env()) for app in APPS}
    outputs = {app: proc.communicate(timeout=300) for app, proc in procs.items()}
    return {app: (procs[app].returncode, *outputs[app]) for app in APPS}


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_script_help_shows_its_own_text_and_only_its_groups(app, help_outputs):
    code, out, err = help_outputs[app]
    assert code == 0, err
    assert out.startswith(f"{script_name(app)}: ") and "== Examples ==" in out and "powered by Hydra" not in out
    listed = {m.group(1) for m in re.finditer(r"^\s+(\w+): ", out, re.MULTILINE)}
    assert listed & ALL_GROUPS == set(app_groups(app))


@pytest.mark.slow
def test_script_refuses_an_unknown_key_and_runs_a_known_one(tmp_path):
    for arg in ("stream.treshold=0.5", "+stream.treshold=0.5"):
        out = subprocess.run(script_command("speechseq-stream") + ["--cfg", "job", arg], capture_output=True,
                             text=True, env=quiet_env(), timeout=300, cwd=tmp_path)
        assert out.returncode == 2 and out.stdout == ""
        assert_one_error_line(out.stderr, "speechseq-stream", "did you mean stream.threshold?")
    out = subprocess.run(script_command("speechseq-stream") + ["--cfg", "job", "stream.threshold=0.5"],
                         capture_output=True, text=True, env=quiet_env(), timeout=300, cwd=tmp_path)
    assert out.returncode == 0 and "threshold: 0.5" in out.stdout, out.stderr

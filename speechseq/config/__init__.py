"""Structured config schemas: Hydra validates every YAML file and override against these.

An unknown key or a wrong type fails at start with the key named; `validate_*` (checks.py) adds
range checks (negative sizes and the like) before any data is read. `training` holds the schemas
of speechseq-train, `apps` those of the other console scripts; `command_line` checks a console
script's command line (bare arguments, group options, unknown keys, values) before Hydra starts.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from speechseq.config.apps import *  # noqa: F403
from speechseq.config.apps import (
    BenchConfig,
    EvalConfig,
    ExportConfig,
    ListenConfig,
    ServeConfig,
    StreamConfig,
)
from speechseq.config.checks import (  # noqa: F401
    ON_DEVICE_MODES,
    PRECISIONS,
    PREFETCH_MODES,
    ConfigError,
    validate_augment,
    validate_bench,
    validate_data,
    validate_eval,
    validate_train,
)
from speechseq.config.training import *  # noqa: F403
from speechseq.config.training import TrainConfig, beside, if_embedding, if_short_budget, under

PACKAGE_CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def register_configs() -> None:
    OmegaConf.register_new_resolver("speechseq.if_short_budget", if_short_budget, replace=True)
    OmegaConf.register_new_resolver("speechseq.beside", beside, replace=True)
    OmegaConf.register_new_resolver("speechseq.under", under, replace=True)
    OmegaConf.register_new_resolver("speechseq.if_embedding", if_embedding, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="export_schema", node=ExportConfig)
    cs.store(name="stream_schema", node=StreamConfig)
    cs.store(name="listen_schema", node=ListenConfig)
    cs.store(name="serve_schema", node=ServeConfig)
    cs.store(name="bench_schema", node=BenchConfig)

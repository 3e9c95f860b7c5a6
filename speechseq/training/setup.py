"""Setting up a training run: its folders and resume state, the model, optimiser, augmentation and batches."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from speechseq.augment.transforms import build_augmenters
from speechseq.config import validate_train
from speechseq.data.batches import batch_indices
from speechseq.data.loader import BatchSource, choose_on_device, move_split
from speechseq.deploy.checkpoint import (
    check_resume_state,
    load_resume_state,
)
from speechseq.device import configure_threads, resolve_device
from speechseq.evaluation.inference import evaluation_indices
from speechseq.features.embedding_spec import check_available
from speechseq.features.logmel import frontend_module
from speechseq.fsutil import (
    ensure_writable_dir,
    remove_stale_temporaries,
)
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier, count_parameters
from speechseq.training.average import WeightAverage, weight_average
from speechseq.training.budget import TimeBudget
from speechseq.training.data import (
    TrainingData,
    fit_normalization,
    model_spec,
)
from speechseq.training.distributed import DistInfo, init_distributed
from speechseq.training.feed import use_prefetch
from speechseq.training.run_log import RunLogger
from speechseq.training.selection import resumed_best_score
from speechseq.training.step import (
    NonFiniteWatch,
    TrainStep,
    amp_settings,
)
from speechseq.training.transfer import init_from_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Where a run writes and how far it has come."""

    out_dir: Path
    state: dict | None
    start_epoch: int = 0
    best_val: float = -1.0
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)
    status: str = "completed"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "checkpoints" / "best.safetensors"

    @property
    def last_path(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pt"


@dataclass
class Trainer:
    """Everything the epochs use."""

    cfg: DictConfig
    dist: DistInfo
    device: torch.device
    data: TrainingData
    model: RecurrentClassifier
    frontend: nn.Module           # LogMel, or SpeechEmbedding (features=speech_embedding)
    step: TrainStep
    source: BatchSource
    val_split: object
    val_noise: object
    val_indices: np.ndarray
    steps_per_epoch: int
    epoch_size: int
    runlog: RunLogger
    nonfinite: NonFiniteWatch
    config_json: str
    n_params: int
    budget: TimeBudget | None
    total_steps: int
    prefetch: bool = False         # the next batch's features prepared in a thread (train_feed)
    average: WeightAverage | None = None  # optim.ema_decay > 0: the weights validated and saved

    @property
    def eval_model(self) -> RecurrentClassifier:
        """What is validated and saved as best.safetensors: the weight average, or the model itself."""
        return self.average.model if self.average is not None else self.model

    def planned_epochs(self) -> int:
        return self.budget.planned_epochs if self.budget is not None else self.cfg.trainer.max_epochs


def start_run(cfg: DictConfig) -> tuple[DistInfo, torch.device, Run]:
    """Checks, devices, threads, the resume state, and a writable run folder (before any data is read)."""
    validate_train(cfg)
    if cfg.features.kind == "speech_embedding":  # a missing package: one line now, not after decoding the data
        check_available()
    t = cfg.trainer
    dist = init_distributed(t.device)
    device = resolve_device(t.device, dist.local_rank)
    configure_threads(t.num_threads)
    amp_settings(t.precision, device)  # a precision this device cannot train in fails before any data is read
    state = load_resume_state(t.resume) if t.resume else None
    if state is not None:
        check_resume_state(t.resume, state, OmegaConf.to_container(cfg, resolve=True))
    out_dir = Path(cfg.paths.output_dir)
    if state is not None and Path(t.resume).parent.name == "checkpoints":
        out_dir = Path(t.resume).parent.parent  # a resumed run goes on in its own folder
    run = Run(out_dir, state)
    if dist.is_main:  # fail now, not after decoding the data, when outputs cannot be written
        ensure_writable_dir(out_dir / "checkpoints", "run folder")
        for tmp in remove_stale_temporaries(out_dir / "checkpoints"):
            log.info("removed %s, left by a run killed while writing", tmp.name)
    if state is not None:
        run.start_epoch, run.best_epoch = int(state["epoch"]), int(state["best_epoch"])
        run.history = [json.loads(r) for r in state["history"]]
        # by this run's trainer.select_on, which may not be the one the state was saved under
        run.best_val = resumed_best_score(run.history, run.best_epoch, t.select_on)
    return dist, device, run


def build_model(cfg: DictConfig, data: TrainingData, device: torch.device, state: dict | None,
                frontend: nn.Module) -> RecurrentClassifier:
    torch.manual_seed(cfg.trainer.seed)  # weight initialisation depends on the seed only
    model = RecurrentClassifier(model_spec(cfg, frontend.spec.feature_dim, len(data.label_set)))
    if state is not None:
        model.load_state_dict(state["model"])
        log.info("resumed from %s after epoch %d", cfg.trainer.resume, int(state["epoch"]))
    else:
        fit_normalization(model, frontend, data.train, device, seed=cfg.trainer.seed)
        if cfg.trainer.init_from:  # the source's normalisation comes with its encoder
            init_from_checkpoint(model, cfg.trainer.init_from, frontend.spec)
    return model.to(device)


def build_trainer(cfg: DictConfig, dist: DistInfo, device: torch.device, data: TrainingData, run: Run,
                  t_begin: float) -> Trainer:
    t = cfg.trainer
    frontend = frontend_module(data.spec).to(device)
    model = build_model(cfg, data, device, run.state, frontend)
    # Fused AdamW on CUDA takes GradScaler's inf check on the device: no host sync per step.
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                                  fused=device.type == "cuda")
    train_model: nn.Module = model
    if dist.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    train_split, val_split, noise = data.train, data.validation, data.noise.to(device)
    if choose_on_device(cfg.data.on_device, device, [train_split, val_split]):
        # whole splits live on the GPU as int16; batches are drawn there
        train_split, val_split = move_split(train_split, device), move_split(val_split, device)
    val_noise = noise if val_split.waves.device == device else data.noise  # silence drawn where the clips are
    wave_aug, spec_aug = build_augmenters(cfg.augment, noise, data.label_set.names, data.spec)
    step = TrainStep(model, frontend, optimizer, device, t.precision, cfg.optim.label_smoothing, cfg.optim.grad_clip,
                     wave_aug, spec_aug, train_model)
    step.class_weights = _keyword_weights(cfg, data)
    if cfg.optim.get("distill_from"):
        step.teachers, step.distill_weight = _teachers(cfg, data, device), float(cfg.optim.distill_weight)
    if run.state is not None:
        optimizer.load_state_dict(run.state["optimizer"])
        step.scaler.load_state_dict(run.state["scaler"])
    epoch_size = len(train_split.draw(np.random.default_rng(0)))
    steps_per_epoch = len(list(batch_indices(np.arange(epoch_size), t.batch_size, None, dist.rank, dist.world_size)))
    budget = None
    if t.max_minutes:
        budget = TimeBudget(t.max_minutes, steps_per_epoch, reserve_seconds=10 + 3 * t.max_minutes, start=t_begin,
                            planned_epochs=t.max_epochs, max_epochs=t.max_epochs)
    runlog = RunLogger(run.out_dir, dist.is_main)
    if dist.is_main:  # rows of epochs after the resume point (a kill between writes) are dropped
        runlog.rewrite(run.history)
    tr = Trainer(cfg, dist, device, data, model, frontend, step, BatchSource(train_split, noise, device), val_split,
                 val_noise, evaluation_indices(val_split, cfg.data.seed), steps_per_epoch, epoch_size, runlog,
                 NonFiniteWatch(step.scaler.is_enabled()), json.dumps(OmegaConf.to_container(cfg, resolve=True)),
                 count_parameters(model), budget, steps_per_epoch * t.max_epochs, use_prefetch(t.prefetch, device),
                 weight_average(model, cfg.optim.ema_decay, run.state))
    if dist.is_main:
        log.info("%s: %d classes, %d parameters, device %s%s, %s, %d training clips per epoch%s%s",
                 _describe(model.spec), len(data.label_set), tr.n_params, device,
                 f" x{dist.world_size} ranks" if dist.enabled else "", step.precision_name(), epoch_size,
                 f", budget {t.max_minutes:g} min" if budget else "",
                 ", next batch prepared on a spare core" if tr.prefetch else "")
        if tr.average is not None:
            log.info("validating and saving an average of the weights (optim.ema_decay=%g)", tr.average.decay)
    return tr


def _keyword_weights(cfg: DictConfig, data: TrainingData) -> torch.Tensor | None:
    from speechseq.labels import SILENCE, UNKNOWN
    from speechseq.training.step import keyword_class_weights

    names = data.label_set.names
    keywords = [i for i, n in enumerate(names) if n not in (SILENCE, UNKNOWN)]
    weights = keyword_class_weights(data.train.labels, data.train.keyword_idx, len(names), keywords,
                                    float(cfg.optim.get("keyword_balance", 0.0)))
    if weights is not None:
        log.info("loss weights of the commands (optim.keyword_balance=%g): %s", cfg.optim.keyword_balance,
                 ", ".join(f"{names[k]} {weights[k]:.2f}" for k in keywords))
    return weights


def _describe(spec: ModelSpec) -> str:
    kind = ("bi" if spec.bidirectional else "uni") + spec.cell.upper()
    return f"{spec.num_layers}-layer {kind} (hidden {spec.hidden_size}, {spec.pooling} pooling)"


def _teachers(cfg: DictConfig, data: TrainingData, device: torch.device):
    """optim.distill_from's checkpoints ("pretrained": the shipped model), checked against the run."""
    from speechseq.streaming.backends import resolve_checkpoint
    from speechseq.training.distill import Teachers

    paths = [Path(resolve_checkpoint(str(p), "torch")) for p in cfg.optim.distill_from]
    teachers = Teachers.load(paths, data.label_set.names, data.spec, device, cfg.optim.distill_temperature)
    log.info("distilling from %d teacher(s) (optim.distill_weight=%g, temperature %g): %s", len(paths),
             cfg.optim.distill_weight, cfg.optim.distill_temperature, ", ".join(str(p) for p in paths))
    return teachers

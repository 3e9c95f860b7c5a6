"""Structured config schemas: Hydra validates every YAML file and override against these.

An unknown key or a wrong type fails at start with the key named; `validate_*`
(speechseq/config_checks.py) adds range checks (negative sizes and the like) before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

# the range checks live in their own module; re-exported here, where callers have always found them
from speechseq.config_checks import (  # noqa: F401
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

PACKAGE_CONF_DIR = Path(__file__).resolve().parent / "conf"


@dataclass
class DataConfig:
    root: str = "data/SpeechCommands/speech_commands_v0.02"
    task: str = "v2_12"            # v2_12 | v2_35 | custom
    words: Optional[List[str]] = None
    layout: str = "auto"           # auto | lists | hash | testset
    silence_percentage: float = 10.0
    unknown_percentage: float = 10.0
    cache_dir: Optional[str] = "~/.cache/speechseq"
    decode_workers: int = 2
    seed: int = 0                  # fixes the unknown/silence picks of evaluation splits
    on_device: str = "auto"        # CUDA: keep whole splits on the GPU: auto (if they fit) | true | false


@dataclass
class FeaturesConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 480
    hop_length: int = 160
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0


@dataclass
class AugmentConfig:
    enabled: bool = True
    time_shift_ms: float = 100.0
    noise_prob: float = 0.8
    noise_mode: str = "snr"        # snr: per-clip SNR from snr_db | gain: TF recipe, gain U[0, noise_volume]
    snr_db: List[float] = field(default_factory=lambda: [-5.0, 25.0])
    noise_volume: float = 0.1
    gain_db: List[float] = field(default_factory=lambda: [0.0, 0.0])
    silence_dbfs: Optional[List[float]] = None
    fragment_prob: float = 0.0
    fragment_shift_ms: List[float] = field(default_factory=lambda: [400.0, 900.0])
    fragment_max_kept: float = 0.5
    whole_min_kept: float = 0.8
    speed_factors: List[float] = field(default_factory=list)
    room_prob: float = 0.0         # share of word clips put in a room (reverberation); 0 = off
    rt60: List[float] = field(default_factory=lambda: [0.2, 1.0])      # simulated rooms' RT60 range (s)
    distance: List[float] = field(default_factory=lambda: [0.5, 5.0])  # talker to microphone (m)
    rir_bank_size: int = 1000      # simulated rooms in the bank (built once, cached in rir_cache_dir)
    rir_seed: int = 0              # the bank's seed (same seed, same bank)
    rir_dir: Optional[str] = None  # recorded impulse responses instead of simulated rooms
    rir_cache_dir: Optional[str] = None  # where simulated banks are kept (the yamls: ${data.cache_dir}); null: none
    freq_mask_param: int = 7
    num_freq_masks: int = 2
    time_mask_param: int = 10
    num_time_masks: int = 2


@dataclass
class ModelConfig:
    cell: str = "lstm"             # lstm | gru | rnn
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.1
    pooling: str = "mean"          # mean | attention
    frame_stack: int = 1           # stack k frames per RNN step (k times fewer steps)
    nonlinearity: str = "tanh"     # cell=rnn: tanh | relu (nn.RNN's activation)


@dataclass
class OptimConfig:
    lr: float = 3e-3
    weight_decay: float = 1e-2
    schedule: str = "warmup_cosine"  # warmup_cosine | constant
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    label_smoothing: float = 0.05


@dataclass
class TrainerConfig:
    max_epochs: int = 30
    batch_size: int = 128
    eval_batch_size: int = 512
    device: str = "auto"           # auto | cpu | cuda | cuda:N
    precision: str = "auto"        # auto (fp16 on CUDA, bf16 on a CPU with native bf16, else fp32) | fp32 | fp16 | bf16
    num_threads: int = 0           # torch CPU threads; 0 = all cores
    seed: int = 0
    resume: Optional[str] = None
    test_after_training: bool = True
    progress: bool = True
    log_every: int = 20            # steps between progress-bar updates (each one syncs the device)
    max_minutes: Optional[float] = None  # time budget: the LR schedule is fitted to it, training ends inside it
    test_noise_snr: List[float] = field(default_factory=list)  # also score the test split at these SNRs (dB)
    prefetch: str = "auto"         # next batch's augmentation + log-mel in a thread: auto (CPU with a spare core) | true | false


@dataclass
class PathsConfig:
    output_dir: str = "${hydra:runtime.output_dir}"


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    debug: bool = False


@dataclass
class StreamKnobsConfig:
    """Streaming recognition (speechseq-stream, speechseq-listen, speechseq-eval mode=stream|calibrate).

    Detector knobs left null take the value calibrated into the model's metadata
    (`speechseq-eval mode=calibrate`), else the default in the comment; a value given wins.
    """
    hop_ms: float = 100.0            # classify the window this often
    window_ms: float = 1000.0        # audio the classifier sees each hop (the training clip length)
    detector: Optional[str] = None   # recognize_commands (default) | max_pool | peak
    average_window_ms: Optional[float] = None  # posteriors pooled over this long (800)
    threshold: Optional[float] = None  # pooled score a detection needs (0.7); given: per-class values dropped
    class_thresholds: Dict[str, float] = field(default_factory=dict)  # per-keyword thresholds; {}: calibrated/none
    margin: Optional[float] = None   # the word must beat _unknown_/_silence_ by this (0.0)
    temperature: Optional[float] = None  # posteriors sharpened/softened before pooling (1.0)
    suppression_ms: Optional[float] = None  # no detection this soon after the last one (1500)
    minimum_count: int = 1           # posteriors needed in the average
    mode: str = "window"             # window | stateful (unidirectional models) | auto
    max_false_alarms_per_hour: float = 30.0  # mode=calibrate: the budget the threshold is chosen for


@dataclass
class StreamConfig:
    checkpoint: Optional[str] = None  # null: the packaged pretrained model, if installed
    input: Optional[str] = None       # FILE.wav, or - for raw s16le 16 kHz mono PCM on stdin
    output: Optional[str] = None      # CSV of detections; null: stdout
    realtime: bool = False            # pace the input like a microphone
    runtime: str = "torch"            # torch | onnx | numpy
    block_ms: float = 100.0           # audio read per block
    num_threads: int = 1              # torch CPU threads (numpy's BLAS threads for runtime=numpy)
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    debug: bool = False


@dataclass
class ListenConfig:
    checkpoint: Optional[str] = None
    device: Optional[str] = None      # input device index or name; null: the system default
    list_devices: bool = False
    runtime: str = "torch"            # torch | onnx | numpy
    block_ms: float = 50.0            # microphone callback block
    view: str = "auto"                # auto (rich on a terminal, plain lines when piped) | rich | plain
    num_threads: int = 1
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    debug: bool = False


@dataclass
class ServeLimitsConfig:
    """What one speechseq-serve connection may send (speechseq/serve/protocol.py)."""
    max_clients: int = 8                 # connections past this are refused (close 1013)
    max_message_bytes: int = 32000       # one binary message: 1 s of s16le 16 kHz audio
    max_messages_per_s: float = 100.0    # averaged over burst_s
    max_speed: float = 2.0               # audio may arrive at most this many times faster than real time...
    burst_s: float = 2.0                 # ...beyond this much audio of slack
    max_backlog_ms: float = 1000.0       # audio waiting for the model past this is dropped (and counted)
    hello_timeout_s: float = 10.0        # the hello message must come this soon after connecting
    idle_timeout_s: float = 30.0         # a connection silent this long is closed


@dataclass
class ServeConfig:
    checkpoint: Optional[str] = None
    runtime: str = "torch"
    num_threads: int = 1
    host: str = "127.0.0.1"              # another address only when asked
    port: int = 8000
    serve: ServeLimitsConfig = field(default_factory=ServeLimitsConfig)
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    debug: bool = False


@dataclass
class EvalConfig:
    checkpoint: str = MISSING
    split: str = "test"            # test | validation | train
    mode: str = "clips"            # clips | stream | calibrate
    input: Optional[str] = None    # mode=stream|calibrate: the long WAV
    labels: Optional[str] = None   # mode=stream|calibrate: its labels.csv
    output: Optional[str] = None   # mode=calibrate: write a calibrated copy here; null: update checkpoint in place
    onnx: Optional[str] = None     # mode=calibrate: also write the settings into this export's model.json
    data: DataConfig = field(default_factory=DataConfig)
    device: str = "auto"
    batch_size: int = 512
    plots: bool = True
    noise_snr: List[float] = field(default_factory=list)  # mode=clips: also score with background noise at these SNRs (dB)
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    debug: bool = False


@dataclass
class ExportConfig:
    checkpoint: str = MISSING      # an inference checkpoint (best.safetensors)
    format: str = "onnx"
    output: Optional[str] = None   # the .onnx file; default <run dir>/model.onnx (model.json beside it)
    opset: int = 17
    paths: PathsConfig = field(default_factory=PathsConfig)
    debug: bool = False


@dataclass
class BenchConfig:
    """speechseq-bench: throughput of decoding, the frontend, training and evaluation."""
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    synthetic: bool = False              # synthetic waveforms instead of data.root
    synthetic_clips: Optional[int] = None  # null: full v2 size (105,829) on CUDA, 8,192 on CPU
    device: str = "auto"
    precision: str = "auto"
    num_threads: int = 0                 # torch CPU threads; 0 = all cores
    interop_threads: int = 0             # torch inter-op threads; 0 = torch's default
    batch_size: int = 128
    eval_batch_size: int = 512
    warmup_steps: int = 2
    train_steps: int = 8
    baseline_steps: int = 8
    baseline_workers: int = 2            # DataLoader workers of the per-clip baseline
    decode_clips: int = 1000
    frontend_clips: int = 2048
    librosa_clips: int = 200
    eval_clips: int = 2048
    thread_sweep: List[int] = field(default_factory=lambda: [1, 2])  # CPU only; [] skips
    worker_variant: bool = True          # CPU only: the real pipeline with its frontend in a DataLoader worker
    seed: int = 0
    paths: PathsConfig = field(default_factory=PathsConfig)
    debug: bool = False


# Under a short time budget the model is still underfitting when time runs out, so what buys
# epochs or speeds learning beats what regularises: with trainer.max_minutes=5 three stacked frames
# gave +2.1 points of validation accuracy over two (2 seeds), and turning SpecAugment and dropout
# off gave more (docs/noise.md), while for the full 120 epochs two frames gave +1.6 over three (3 seeds).
# Between 10 and ~20 minutes untested.
SHORT_BUDGET_MINUTES = 10.0


def if_short_budget(max_minutes, short, otherwise):
    """`${speechseq.if_short_budget:${trainer.max_minutes},SHORT,OTHERWISE}` in experiment=mini:
    SHORT under a time budget of at most SHORT_BUDGET_MINUTES, OTHERWISE without one or above it."""
    is_short = max_minutes is not None and float(max_minutes) <= SHORT_BUDGET_MINUTES
    return short if is_short else otherwise


def register_configs() -> None:
    OmegaConf.register_new_resolver("speechseq.if_short_budget", if_short_budget, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="export_schema", node=ExportConfig)
    cs.store(name="stream_schema", node=StreamConfig)
    cs.store(name="listen_schema", node=ListenConfig)
    cs.store(name="serve_schema", node=ServeConfig)
    cs.store(name="bench_schema", node=BenchConfig)

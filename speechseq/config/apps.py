"""Schemas of the other console scripts: stream, listen, serve, eval, export, bench."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from omegaconf import MISSING

from speechseq.config.training import (
    AugmentConfig,
    DataConfig,
    FeaturesConfig,
    ModelConfig,
    OptimConfig,
    PathsConfig,
)


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
    enhance: str = "none"            # none | wpe (online WPE dereverberation before the log-mel; docs/frontends.md)
    silence_gate_dbfs: float = -80.0  # windows quieter than this are _silence_ (digital silence); -inf: off
    input_rate: int = 16000          # speechseq-stream input=- with raw PCM (no WAV/FLAC header): its rate
    input_channels: int = 1          # ... and its interleaved channels


@dataclass
class StreamConfig:
    checkpoint: Optional[str] = None  # null: the packaged pretrained model, if installed
    input: Optional[str] = None       # FILE.wav, or - for raw s16le 16 kHz mono PCM on stdin
    output: Optional[str] = None      # CSV of detections; null: stdout
    realtime: bool = False            # pace the input like a microphone
    runtime: str = "auto"             # auto | torch | onnx | numpy (auto: onnx for an .onnx, else torch, else numpy)
    block_ms: float = 100.0           # audio read per block
    num_threads: int = 1              # torch CPU threads (numpy's BLAS threads for runtime=numpy)
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    debug: bool = False


@dataclass
class ListenConfig:
    checkpoint: Optional[str] = None
    device: Optional[str] = None      # input device index or name; null: the system default
    list_devices: bool = False
    runtime: str = "auto"             # auto | torch | onnx | numpy
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
    runtime: str = "auto"                # auto | torch | onnx | numpy
    num_threads: int = 1
    host: str = "127.0.0.1"              # another address only when asked
    port: int = 8000
    serve: ServeLimitsConfig = field(default_factory=ServeLimitsConfig)
    stream: StreamKnobsConfig = field(default_factory=StreamKnobsConfig)
    debug: bool = False


@dataclass
class EvalConfig:
    checkpoint: Optional[str] = None  # null or `pretrained`: the shipped model
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
    reverb_rt60: List[float] = field(default_factory=list)  # mode=clips: also score every clip in a room of these RT60s (s)
    reverb_distance: List[float] = field(default_factory=lambda: [1.0, 4.0])  # talker-microphone range of those rooms (m)
    reverb_rooms: int = 200        # rooms drawn per RT60 (each clip gets one of them, seeded)
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

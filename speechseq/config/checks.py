"""Range checks of composed configs (negative sizes and the like), run before any data is read.

Hydra's structured schemas (speechseq/config.py) catch unknown keys and wrong types; these catch
values of the right type that make no sense, naming the key.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A config value out of range; the message names the key."""


def _require(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {message}")


PRECISIONS = ("auto", "fp32", "fp16", "bf16")
ON_DEVICE_MODES = ("auto", "true", "false")  # data.on_device (YAML may hand them over as booleans)
PREFETCH_MODES = ON_DEVICE_MODES  # trainer.prefetch: the same three
SELECT_ON = ("balanced_accuracy", "accuracy", "loss")  # trainer.select_on
RT60_LIMITS = (0.1, 2.0)      # augment.rt60, seconds: drier or more reverberant rooms are not simulated here
MAX_TTS_TAKES = 10000        # data.tts_takes: synthetic takes of each own word
PITCH_LIMITS = (-4.0, 4.0)    # augment.pitch_semitones: beyond a major third the phase vocoder's echo grows
DISTANCE_LIMITS = (0.2, 8.0)  # augment.distance, metres: what fits in the rooms drawn (up to 12 x 10 m)


def _require_device(value: str, key: str) -> None:
    _require(value == "auto" or value == "cpu" or value.startswith("cuda"), key, f"{value!r} is not auto, cpu or cuda[:N]")


def _require_mode(value, key: str, modes: tuple[str, ...]) -> None:
    _require(str(value).lower() in modes, key, f"{value!r} is not {', '.join(modes[:-1])} or {modes[-1]}")


def _require_precision(value: str, key: str) -> None:
    _require(value in PRECISIONS, key, f"{value!r} is not auto, fp32, fp16 or bf16")


def validate_data(cfg) -> None:
    _require(cfg.task in ("v2_12", "v2_35", "custom"), "data.task", f"{cfg.task!r} is not v2_12, v2_35 or custom")
    _require(cfg.task != "custom" or bool(cfg.words) or bool(cfg.custom_root), "data.words",
             "data.task=custom needs data.words=[word,...] (or data.custom_root=DIR of word folders)")
    _require(cfg.layout in ("auto", "lists", "hash", "testset"), "data.layout", f"{cfg.layout!r} is not auto, lists, hash or testset")
    for key in ("silence_percentage", "unknown_percentage"):
        _require(0 <= cfg[key] <= 100, f"data.{key}", f"must be within 0..100, got {cfg[key]}")
    _require(cfg.decode_workers >= 1, "data.decode_workers", "must be at least 1")
    _require_mode(cfg.on_device, "data.on_device", ON_DEVICE_MODES)
    _require(0 < cfg.validation_share <= 0.5, "data.validation_share", f"must be within (0, 0.5], got {cfg.validation_share}")
    _require(cfg.tts_takes is None or 0 <= cfg.tts_takes <= MAX_TTS_TAKES, "data.tts_takes",
             f"must be within 0..{MAX_TTS_TAKES} (0: none; null: automatic), got {cfg.tts_takes}")
    command_takes = cfg.get("tts_command_takes", 0)
    _require(0 <= command_takes <= MAX_TTS_TAKES, "data.tts_command_takes",
             f"must be within 0..{MAX_TTS_TAKES} (0: none), got {command_takes}")


EVAL_SPLITS = ("test", "validation", "train", "all")  # all: every clip in the folder, as one test set


def validate_eval(cfg) -> None:
    """speechseq-eval's checks, before the checkpoint or any data is read."""
    validate_data(cfg.data)
    _require(cfg.split in EVAL_SPLITS, "split", f"{cfg.split!r} is not test, validation, train or all")
    _require(cfg.batch_size > 0, "batch_size", f"must be positive, got {cfg.batch_size}")
    _require_device(cfg.device, "device")
    _require_rt60s(cfg.reverb_rt60, "reverb_rt60")
    _require_range(cfg.reverb_distance, "reverb_distance", *DISTANCE_LIMITS)
    _require(cfg.reverb_rooms >= 1, "reverb_rooms", f"must be at least 1, got {cfg.reverb_rooms}")


def validate_train(cfg) -> None:
    """Range checks the schema cannot express; raises ConfigError naming the key."""
    validate_data(cfg.data)
    f = cfg.features
    _validate_embedding(cfg)
    for key in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
        _require(f[key] > 0, f"features.{key}", f"must be positive, got {f[key]}")
    _require(f.win_length <= f.n_fft, "features.win_length", "must not exceed features.n_fft")
    _require(0 <= f.f_min < f.f_max <= f.sample_rate / 2, "features.f_max", "need 0 <= f_min < f_max <= sample_rate/2")
    m = cfg.model
    _require(m.cell in ("lstm", "gru", "rnn"), "model.cell", f"{m.cell!r} is not lstm, gru or rnn")
    _require(m.pooling in ("mean", "attention"), "model.pooling", f"{m.pooling!r} is not mean or attention")
    _require(m.nonlinearity in ("tanh", "relu"), "model.nonlinearity", f"{m.nonlinearity!r} is not tanh or relu")
    _require(m.nonlinearity == "tanh" or m.cell == "rnn", "model.nonlinearity",
             f"{m.nonlinearity} applies to model.cell=rnn only (the {m.cell.upper()}'s gates fix its activations)")
    _require(m.hidden_size > 0, "model.hidden_size", f"must be positive, got {m.hidden_size}")
    _require(m.num_layers > 0, "model.num_layers", f"must be positive, got {m.num_layers}")
    _require(m.frame_stack > 0, "model.frame_stack", f"must be positive, got {m.frame_stack}")
    _require(0 <= m.dropout < 1, "model.dropout", f"must be in [0, 1), got {m.dropout}")
    validate_optim(cfg.optim)
    t = cfg.trainer
    _require(t.max_epochs > 0, "trainer.max_epochs", f"must be positive, got {t.max_epochs}")
    _require(t.batch_size > 0, "trainer.batch_size", f"must be positive, got {t.batch_size}")
    _require(t.eval_batch_size > 0, "trainer.eval_batch_size", "must be positive")
    _require_precision(t.precision, "trainer.precision")
    _require_device(t.device, "trainer.device")
    _require(t.num_threads >= 0, "trainer.num_threads", "must not be negative")
    _require(t.log_every > 0, "trainer.log_every", "must be positive")
    _require(t.max_minutes is None or t.max_minutes > 0, "trainer.max_minutes", "must be positive (or null: no budget)")
    _require_mode(t.prefetch, "trainer.prefetch", PREFETCH_MODES)
    _require_mode(t.select_on, "trainer.select_on", SELECT_ON)
    _require_rt60s(t.test_reverb_rt60, "trainer.test_reverb_rt60")
    validate_augment(cfg.augment)
    validate_calibration(cfg.calibration)
    if "openworld" in cfg:
        validate_openworld(cfg.openworld)


def validate_optim(o) -> None:
    """optim.*: the learning rate and its schedule, the loss's knobs, distillation's teachers."""
    _require(o.lr > 0, "optim.lr", f"must be positive, got {o.lr}")
    _require(o.weight_decay >= 0, "optim.weight_decay", "must not be negative")
    _require(o.schedule in ("warmup_cosine", "constant"), "optim.schedule", f"{o.schedule!r} is not warmup_cosine or constant")
    _require(0 <= o.warmup_fraction < 1, "optim.warmup_fraction", "must be in [0, 1)")
    _require(o.grad_clip >= 0, "optim.grad_clip", "must not be negative (0 disables clipping)")
    _require(0 <= o.label_smoothing < 1, "optim.label_smoothing", "must be in [0, 1)")
    _require(0 <= o.ema_decay < 1, "optim.ema_decay", f"must be in [0, 1) (0: off), got {o.ema_decay}")
    _require(0 <= o.keyword_balance <= 2, "optim.keyword_balance", f"must be within 0..2 (0: off), got {o.keyword_balance}")
    _require(0 < o.distill_weight <= 1, "optim.distill_weight", f"must be in (0, 1], got {o.distill_weight}")
    _require(o.distill_temperature > 0, "optim.distill_temperature", "must be positive")
    for teacher in o.distill_from or []:
        _require(_names_a_checkpoint(teacher), "optim.distill_from",
                 f"{teacher} is not a file (a teacher's .safetensors, or pretrained)")


def _names_a_checkpoint(value) -> bool:
    """`pretrained` (the shipped model) or an existing file, `~` allowed (as resolve_checkpoint reads it)."""
    return str(value) == "pretrained" or Path(str(value)).expanduser().is_file()


def validate_openworld(o) -> None:
    if not o.root:
        return
    _require(Path(o.root).expanduser().is_dir(), "openworld.root",
             f"{o.root} is not a folder (one laid out as ../shared/data/real_world; openworld.root=null turns it off)")
    f = o.filter_checkpoint
    _require(not f or _names_a_checkpoint(f), "openworld.filter_checkpoint",
             f"{f} is not a file (a .safetensors checkpoint, pretrained, or null for no filter)")
    _require(0 <= o.speech_percentage <= 500, "openworld.speech_percentage", f"must be within 0..500, got {o.speech_percentage}")
    _require(0 < o.windows_per_second <= 20, "openworld.windows_per_second", f"must be within (0, 20], got {o.windows_per_second}")
    _require(0 <= o.min_active <= 1, "openworld.min_active", f"must be within 0..1, got {o.min_active}")
    _require(0 < o.filter_threshold <= 1, "openworld.filter_threshold", f"must be within (0, 1], got {o.filter_threshold}")
    _require(0 <= o.tts_clips <= 200_000, "openworld.tts_clips", f"must be within 0..200000 (0: none), got {o.tts_clips}")
    _require(0 <= o.tts_percentage <= 500, "openworld.tts_percentage", f"must be within 0..500, got {o.tts_percentage}")
    known = ("auto", "espeak", "flite", "piper")
    _require(all(e in known for e in o.tts_engines), "openworld.tts_engines",
             f"{list(o.tts_engines)}: choose auto or among espeak, flite, piper")


def _validate_embedding(cfg) -> None:
    kind = cfg.features.kind
    _require(kind in ("logmel", "speech_embedding"), "features.kind", f"{kind!r} is not logmel or speech_embedding")
    if kind != "speech_embedding":
        return
    _require(cfg.features.sample_rate == 16000, "features.sample_rate",
             f"the speech embedding reads 16000 Hz audio, got {cfg.features.sample_rate}")
    _require(cfg.model.frame_stack == 1, "model.frame_stack",
             f"features=speech_embedding gives 3 frames of 80 ms per 1 s window, each an RNN step: set "
             f"model.frame_stack=1 (got {cfg.model.frame_stack}, which would merge or drop frames)")
    a = cfg.augment
    _require(not a.vtlp, "augment.vtlp", "acts on log-mel bands, which features=speech_embedding has none of: set augment.vtlp=[]")
    _require(a.eq_db == 0, "augment.eq_db", "acts on log-mel bands, which features=speech_embedding has none of: set augment.eq_db=0")


def _require_rt60s(values, key: str) -> None:
    for v in values:
        _require(RT60_LIMITS[0] <= v <= RT60_LIMITS[1], key, f"RT60 {v} s is outside {list(RT60_LIMITS)}")


def validate_calibration(c) -> None:
    _require(c.seconds >= 60, "calibration.seconds", f"must be at least 60 (a stream of words), got {c.seconds}")
    _require(c.max_false_alarms_per_hour >= 0, "calibration.max_false_alarms_per_hour", "must not be negative")
    plain = c.get("plain_takes", 0)
    _require(isinstance(plain, int) and plain >= 0, "calibration.plain_takes", f"must be a whole number >= 0, got {plain}")
    talk = c.get("max_detections_per_hour_of_talk")
    _require(talk is None or talk >= 0, "calibration.max_detections_per_hour_of_talk", "must not be negative (or null)")
    _require(isinstance(c.takes, int) and c.takes >= 1, "calibration.takes", f"must be a whole number >= 1, got {c.takes}")
    _require(c.get("draw", "speaker") in ("speaker", "clip"), "calibration.draw", f"must be speaker or clip, got {c.get('draw')!r}")
    _require(RT60_LIMITS[0] <= c.rt60 <= RT60_LIMITS[1], "calibration.rt60", f"must be within {list(RT60_LIMITS)}")
    _require(DISTANCE_LIMITS[0] <= c.distance <= DISTANCE_LIMITS[1], "calibration.distance",
             f"must be within {list(DISTANCE_LIMITS)}")


def _require_range(value, key: str, low: float | None = None, high: float | None = None) -> None:
    _require(value is not None and len(value) == 2 and value[0] <= value[1], key,
             f"needs [low, high] with low <= high, got {value}")
    _require(low is None or value[0] >= low, key, f"must not go below {low}, got {list(value)}")
    _require(high is None or value[1] <= high, key, f"must not go above {high}, got {list(value)}")


def validate_augment(a) -> None:
    _require(0 <= a.noise_prob <= 1, "augment.noise_prob", "must be within 0..1")
    for key in ("time_shift_ms", "noise_volume", "freq_mask_param", "num_freq_masks", "time_mask_param", "num_time_masks",
                "embedding_freq_mask_param", "embedding_time_mask_param"):
        _require(a[key] >= 0, f"augment.{key}", f"must not be negative, got {a[key]}")
    _require(a.noise_mode in ("snr", "gain"), "augment.noise_mode", f"{a.noise_mode!r} is not snr or gain")
    _require_range(a.snr_db, "augment.snr_db")
    _require_range(a.gain_db, "augment.gain_db")
    if a.silence_dbfs is not None:
        _require_range(a.silence_dbfs, "augment.silence_dbfs", high=0.0)
    _require(0 <= a.fragment_prob <= 1, "augment.fragment_prob", "must be within 0..1")
    _require_range(a.fragment_shift_ms, "augment.fragment_shift_ms", low=0.0)
    _require(0 <= a.fragment_max_kept <= a.whole_min_kept <= 1, "augment.whole_min_kept",
             "need 0 <= fragment_max_kept <= whole_min_kept <= 1")
    _require(all(0.5 <= f <= 2.0 for f in a.speed_factors), "augment.speed_factors", "factors must be within 0.5..2")
    if a.vtlp:
        _require_range(a.vtlp, "augment.vtlp", low=0.7, high=1.4)
    if a.pitch_semitones:
        _require_range(a.pitch_semitones, "augment.pitch_semitones", *PITCH_LIMITS)
    _require(0 <= a.eq_db <= 24, "augment.eq_db", f"must be within 0..24 dB, got {a.eq_db}")
    _validate_rooms(a)


def _validate_rooms(a) -> None:
    from pathlib import Path

    _require(0 <= a.room_prob <= 1, "augment.room_prob", "must be within 0..1")
    _require_range(a.rt60, "augment.rt60", *RT60_LIMITS)
    _require_range(a.distance, "augment.distance", *DISTANCE_LIMITS)
    _require(a.rir_bank_size >= 1, "augment.rir_bank_size", f"must be at least 1, got {a.rir_bank_size}")
    _require(a.rir_seed >= 0, "augment.rir_seed", f"must not be negative, got {a.rir_seed}")
    _require(not a.rir_dir or Path(a.rir_dir).expanduser().is_dir(), "augment.rir_dir",
             f"{a.rir_dir} is not a folder of impulse responses")
    _require(0 <= a.rir_dir_share <= 1, "augment.rir_dir_share", f"must be within 0..1, got {a.rir_dir_share}")
    _require(a.rir_split in (None, "train", "validation", "test"), "augment.rir_split",
             f"{a.rir_split!r} is not train, validation, test or null")


def validate_bench(cfg) -> None:
    validate_data(cfg.data)
    for key in ("batch_size", "eval_batch_size", "train_steps", "baseline_steps", "decode_clips", "frontend_clips",
                "librosa_clips", "eval_clips"):
        _require(cfg[key] > 0, key, f"must be positive, got {cfg[key]}")
    for key in ("warmup_steps", "baseline_workers", "num_threads", "interop_threads"):
        _require(cfg[key] >= 0, key, f"must not be negative, got {cfg[key]}")
    _require(cfg.synthetic_clips is None or cfg.synthetic_clips >= cfg.batch_size, "synthetic_clips",
             "must be at least batch_size")
    _require(all(n > 0 for n in cfg.thread_sweep), "thread_sweep", "thread counts must be positive")
    _require_precision(cfg.precision, "precision")
    _require_device(cfg.device, "device")

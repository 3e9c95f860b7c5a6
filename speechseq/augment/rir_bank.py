"""A bank of room impulse responses (RIRs): shoebox rooms simulated with pyroomacoustics.

Each room draws its RT60, talker-microphone distance, size and heights from a seeded generator of
its own (bank seed, room index), so the same seed gives the same bank and any room can be rebuilt
alone. The image-source model gives the early reflections and ray tracing the tail (the image
sources alone would take seconds a room at RT60 1 s). Every RIR is stored from just before its
direct path, with the direct path's sample index, cut where its decay falls 60 dB below the total
energy and after `max_seconds`. Banks are cached on disk keyed by every parameter, the
pyroomacoustics version and the sample rate (see `load_or_build_bank`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from speechseq.config.checks import ConfigError
from speechseq.fsutil import atomic_path

log = logging.getLogger(__name__)
BANK_FORMAT = 1        # in the cache key: bump when what is stored changes
PRE_DIRECT = 40        # samples kept before the direct path: pyroomacoustics' fractional-delay half-length
WALL_MARGIN_M = 0.3    # talker and microphone stay this far from every wall
ROOM_TRIES = 2000      # room draws before giving up on an RT60/distance no shoebox here can give
PLACE_TRIES = 50       # placements tried in one room before drawing another


@dataclass(frozen=True)
class RoomSpec:
    """What a simulated bank is drawn over; every field is part of the cache key."""

    size: int = 1000
    rt60: tuple[float, float] = (0.2, 1.0)       # seconds (Sabine's, which sets the wall absorption)
    distance: tuple[float, float] = (0.5, 5.0)   # talker to microphone, metres
    seed: int = 0
    sample_rate: int = 16000
    max_seconds: float = 1.0                     # RIR kept after the direct path (a 1 s clip needs no more)
    length_m: tuple[float, float] = (3.0, 12.0)
    width_m: tuple[float, float] = (3.0, 10.0)
    height_m: tuple[float, float] = (2.4, 4.0)
    talker_height_m: tuple[float, float] = (1.0, 1.9)   # sitting to standing
    mic_height_m: tuple[float, float] = (0.5, 2.0)      # table to shelf
    ism_order: int = 3                                  # image sources up to here, ray tracing after


@dataclass
class RirBank:
    """RIRs as one zero-padded tensor; row i's direct path is at `direct[i]`."""

    rirs: torch.Tensor      # (N, R) float32, each row scaled to unit energy
    direct: torch.Tensor    # (N,) long
    lengths: torch.Tensor   # (N,) long: samples before the zero padding
    info: dict = field(default_factory=dict)  # per-RIR numpy arrays (rt60, distance, ...) for reports
    weights: torch.Tensor | None = None  # (N,) chance of each RIR being drawn; None: all alike

    def __len__(self) -> int:
        return self.rirs.shape[0]

    def to(self, device) -> "RirBank":
        weights = None if self.weights is None else self.weights.to(device)
        return RirBank(self.rirs.to(device), self.direct.to(device), self.lengths.to(device), self.info, weights)

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` RIR indices, as `weights` says (uniform when they are None)."""
        device = self.rirs.device
        if self.weights is None:
            return torch.randint(len(self), (n,), device=device, generator=generator)
        return torch.multinomial(self.weights, n, replacement=True, generator=generator)


def mix_banks(first: RirBank, second: RirBank, second_share: float) -> RirBank:
    """One bank drawing from `second` with chance `second_share` and from `first` otherwise."""
    width = max(first.rirs.shape[1], second.rirs.shape[1])
    pad = lambda b: torch.nn.functional.pad(b.rirs, (0, width - b.rirs.shape[1]))  # noqa: E731
    weights = torch.cat([torch.full((len(first),), (1.0 - second_share) / len(first)),
                         torch.full((len(second),), second_share / len(second))])
    return RirBank(torch.cat([pad(first), pad(second)]), torch.cat([first.direct, second.direct]),
                   torch.cat([first.lengths, second.lengths]),
                   {"recorded": np.r_[np.zeros(len(first), bool), np.ones(len(second), bool)]}, weights)


def trim_rir(rir: np.ndarray, direct: int, sample_rate: int, max_seconds: float,
             floor_db: float = -60.0) -> tuple[np.ndarray, int]:
    """`rir` from PRE_DIRECT samples before its direct path to where the energy still to come
    (Schroeder's backward integral) falls `floor_db` below the total, at most `max_seconds` after
    the direct path; scaled to unit energy. Returns the trimmed RIR and its direct-path index."""
    start = max(0, direct - PRE_DIRECT)
    rir = np.asarray(rir[start:direct + int(max_seconds * sample_rate)], dtype=np.float64)
    remaining = np.cumsum(rir[::-1] ** 2)[::-1]
    audible = np.nonzero(remaining > remaining[0] * 10.0 ** (floor_db / 10.0))[0]
    rir = rir[:audible[-1] + 1]
    return (rir / np.sqrt(np.sum(rir ** 2))).astype(np.float32), direct - start


def _draw_room(rng: np.random.Generator, spec: RoomSpec, rt60: float, distance: float):
    """(room size, talker, microphone, absorption, image order) for one room, by rejection."""
    import pyroomacoustics as pra

    for _ in range(ROOM_TRIES):
        dims = np.array([rng.uniform(*spec.length_m), rng.uniform(*spec.width_m), rng.uniform(*spec.height_m)])
        try:  # raises when no wall absorption can make a room this large that dry
            absorption, _ = pra.inverse_sabine(rt60, dims)
        except ValueError:
            continue
        placed = _place(rng, spec, dims, distance)
        if placed is not None:
            return dims, placed[0], placed[1], absorption
    raise ConfigError(f"augment.rt60/augment.distance: no shoebox room of {spec.length_m} x {spec.width_m} x "
                      f"{spec.height_m} m gives RT60 {rt60:.2f} s with talker and microphone {distance:.2f} m apart")


def _place(rng: np.random.Generator, spec: RoomSpec, dims: np.ndarray, distance: float):
    """Talker and microphone `distance` apart inside the room, or None when they do not fit."""
    talker_z = rng.uniform(*spec.talker_height_m)
    low, high = spec.mic_height_m  # within reach of `distance` of the talker's mouth
    mic_z = rng.uniform(max(low, talker_z - 0.9 * distance), min(high, talker_z + 0.9 * distance))
    across = np.sqrt(distance ** 2 - (talker_z - mic_z) ** 2)
    for _ in range(PLACE_TRIES):
        mic = rng.uniform(WALL_MARGIN_M, dims[:2] - WALL_MARGIN_M)
        angle = rng.uniform(0, 2 * np.pi)
        talker = mic + across * np.array([np.cos(angle), np.sin(angle)])
        if np.all(talker >= WALL_MARGIN_M) and np.all(talker <= dims[:2] - WALL_MARGIN_M):
            return np.append(talker, talker_z), np.append(mic, mic_z)
    return None


def simulate_rir(spec: RoomSpec, index: int) -> tuple[np.ndarray, int, dict]:
    """Room `index` of the bank `spec`: (trimmed RIR, direct-path index, what was drawn)."""
    import pyroomacoustics as pra

    rng = np.random.default_rng([spec.seed, index])
    rt60, distance = rng.uniform(*spec.rt60), rng.uniform(*spec.distance)
    dims, talker, mic, absorption = _draw_room(rng, spec, rt60, distance)
    sim_seed = int(rng.integers(2 ** 32))
    pra.random.seed(numpy=sim_seed, libroom=sim_seed)  # ray tracing draws from pyroomacoustics' own generators
    room = pra.ShoeBox(dims, fs=spec.sample_rate, materials=pra.Material(absorption), max_order=spec.ism_order,
                       ray_tracing=True, air_absorption=False)
    room.set_ray_tracing(time_thres=spec.max_seconds + 0.1)
    room.add_source(talker)
    room.add_microphone(mic)
    room.compute_rir()
    rir = room.rir[0][0]
    direct = _direct_index(rir, distance / room.c * spec.sample_rate)
    measured = pra.experimental.measure_rt60(rir, spec.sample_rate, decay_db=30)  # T30: what the room gives
    trimmed, direct = trim_rir(rir, direct, spec.sample_rate, spec.max_seconds)
    return trimmed, direct, {"rt60": rt60, "rt60_measured": float(measured), "distance": distance,
                             "volume": float(np.prod(dims))}


def _direct_index(rir: np.ndarray, delay_samples: float) -> int:
    """The direct path's peak: its geometric delay plus the fractional-delay filter's half-length."""
    guess = round(delay_samples) + PRE_DIRECT
    window = np.abs(rir[guess - 1:guess + 2])
    return guess - 1 + int(np.argmax(window))


def stack_rirs(rirs: list[np.ndarray], direct: list[int], info: dict) -> RirBank:
    """A RirBank of ragged RIRs, zero-padded to the longest."""
    lengths = [len(r) for r in rirs]
    padded = np.zeros((len(rirs), max(lengths)), dtype=np.float32)
    for i, r in enumerate(rirs):
        padded[i, :len(r)] = r
    return RirBank(torch.from_numpy(padded), torch.tensor(direct, dtype=torch.long),
                   torch.tensor(lengths, dtype=torch.long), {k: np.asarray(v) for k, v in info.items()})


def build_bank(spec: RoomSpec) -> RirBank:
    """Simulate the `spec.size` rooms of a bank (serially: a few hundredths to tenths of a second each)."""
    from speechseq.progress import Progress

    rirs, direct, info = [], [], {}
    for i in Progress(range(spec.size), total=spec.size, desc="room impulse responses", unit="room",
                      line_off_terminal=False):  # the caller logs the build time
        rir, d, drawn = simulate_rir(spec, i)
        rirs.append(rir)
        direct.append(d)
        for key, value in drawn.items():
            info.setdefault(key, []).append(value)
    return stack_rirs(rirs, direct, info)


def bank_key(spec: RoomSpec) -> str:
    import pyroomacoustics as pra

    fields = {"format": BANK_FORMAT, "pyroomacoustics": pra.__version__, **asdict(spec)}
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def bank_path(spec: RoomSpec, cache_dir: str | Path) -> Path:
    """Where the bank of `spec` is cached under `cache_dir`."""
    return Path(cache_dir).expanduser() / "rirs" / f"rirs-{bank_key(spec)}.npz"


def is_cached(spec: RoomSpec, cache_dir: str | Path | None) -> bool:
    """Whether loading the bank of `spec` would read a file rather than simulate the rooms."""
    return cache_dir is not None and bank_path(spec, cache_dir).is_file()


def load_or_build_bank(spec: RoomSpec, cache_dir: str | Path | None) -> RirBank:
    """The bank of `spec`, from `cache_dir`/rirs when built before, else simulated and stored there."""
    if cache_dir is None:
        return build_bank(spec)
    path = bank_path(spec, cache_dir)
    if path.is_file():
        try:
            return _read_bank(path)
        except (OSError, ValueError, KeyError):
            log.warning("room impulse response cache %s is damaged; rebuilding it", path)
    t0 = time.perf_counter()
    bank = build_bank(spec)
    log.info("simulated %d room impulse responses in %.1f s", len(bank), time.perf_counter() - t0)
    try:
        _write_bank(path, bank)
    except OSError as exc:  # a read-only or full disk only costs simulating again next time
        log.warning("could not write the room impulse response cache %s (%s); continuing without it", path, exc)
    return bank


def _write_bank(path: Path, bank: RirBank) -> None:
    ragged = np.concatenate([row[:n] for row, n in zip(bank.rirs.numpy(), bank.lengths.tolist())])
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, samples=ragged, lengths=bank.lengths.numpy(), direct=bank.direct.numpy(),
                 **{f"info_{k}": v for k, v in bank.info.items()})


def _read_bank(path: Path) -> RirBank:
    with np.load(path) as z:
        lengths = z["lengths"]
        rirs = np.split(z["samples"], np.cumsum(lengths)[:-1])
        info = {k[len("info_"):]: z[k] for k in z.files if k.startswith("info_")}
        return stack_rirs(rirs, z["direct"].tolist(), info)

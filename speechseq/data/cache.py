"""The waveform cache: each split decoded once into one int16 array on disk.

The key hashes every file's path, size and modification time with the decoding settings, so
a changed, added or removed file makes a new cache; later runs and epochs just memory-map it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechseq.audio import AudioReadError, fix_length, float_to_int16, read_audio
from speechseq.fsutil import atomic_path, atomic_write_text
from speechseq.progress import Progress

log = logging.getLogger(__name__)
# In the key: 2 = resampled with soxr (1 was torchaudio's sinc filter), so an old cache of
# files at other rates is rebuilt rather than mixed with what the runtimes now read.
CACHE_FORMAT = 2


@dataclass
class DecodedClips:
    waves: np.ndarray        # (n_ok, clip_samples) int16, possibly a read-only memmap
    ok: np.ndarray           # indices into the requested file list that decoded
    failed: list[dict]       # {"path": ..., "error": ...} for files that were skipped


def cache_key(paths: list[Path], sample_rate: int, clip_samples: int) -> str:
    h = hashlib.sha1(f"v{CACHE_FORMAT}|{sample_rate}|{clip_samples}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def _decode_one(path: Path, sample_rate: int, clip_samples: int) -> np.ndarray | str:
    try:
        # A stray long recording is read only around its middle, which is all fix_length keeps.
        wave = read_audio(path, sample_rate, max_seconds=2 * clip_samples / sample_rate)
        return float_to_int16(fix_length(wave, clip_samples))
    except AudioReadError as exc:
        return str(exc)


def decode_clips(paths: list[Path], sample_rate: int, clip_samples: int, workers: int = 2,
                 desc: str = "decode") -> DecodedClips:
    waves = np.zeros((len(paths), clip_samples), dtype=np.int16)
    ok, failed = [], []
    # libsndfile releases the GIL while decoding, so a few threads help.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = pool.map(lambda p: _decode_one(p, sample_rate, clip_samples), paths)
        for i, (path, res) in enumerate(Progress(zip(paths, results), total=len(paths), desc=desc, unit="clip",
                                                 logger=log)):
            if isinstance(res, str):
                failed.append({"path": str(path), "error": res})
                log.warning("skipping unreadable file: %s", res)
            else:
                waves[len(ok)] = res
                ok.append(i)
    return DecodedClips(waves[: len(ok)], np.asarray(ok, dtype=np.int64), failed)


def load_or_build(paths: list[Path], cache_dir: str | Path | None, sample_rate: int,
                  clip_samples: int, desc: str = "decode", workers: int = 2) -> DecodedClips:
    """Decoded clips for `paths`, from the cache when it matches, else decoded and stored."""
    if cache_dir is None:
        return decode_clips(paths, sample_rate, clip_samples, workers, desc)
    cache_dir = Path(cache_dir).expanduser()
    key = cache_key(paths, sample_rate, clip_samples)
    wave_file, meta_file = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if wave_file.is_file() and meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text())
            waves = np.load(wave_file, mmap_mode="r")
            if waves.shape == (len(meta["ok"]), clip_samples):
                return DecodedClips(waves, np.asarray(meta["ok"], dtype=np.int64), meta["failed"])
        except (OSError, ValueError, KeyError):
            log.warning("waveform cache %s is damaged; rebuilding it", wave_file)
    decoded = decode_clips(paths, sample_rate, clip_samples, workers, desc)
    try:
        with atomic_path(wave_file) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, decoded.waves)
        atomic_write_text(meta_file, json.dumps({"ok": decoded.ok.tolist(), "failed": decoded.failed}))
    except OSError as exc:  # a read-only or full disk only costs decoding again next time
        log.warning("could not write the waveform cache to %s (%s); continuing without it", cache_dir, exc)
    return decoded

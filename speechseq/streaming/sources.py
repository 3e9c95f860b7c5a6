"""Audio sources behind one interface: iterate to get mono float32 blocks at 16 kHz.

- WavFileSource: any soundfile-readable file, any rate or channel count, as fast as possible
  or paced like a microphone (`realtime=True`).
- StdinPcmSource (speechseq.streaming.stdin_source, which also reads WAV and FLAC from stdin): raw
  PCM, signed 16-bit little-endian mono at 16 kHz unless told otherwise (arecord, sox, ffmpeg).
- MicrophoneSource: a sounddevice InputStream whose callback only copies blocks into a queue.

All of them count `overflows` (audio lost because the consumer fell behind) and have `close()`.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from speechseq.audio import AudioReadError, InvalidAudioError, checked_floats, read_audio

SAMPLE_RATE = 16000


class SourceError(RuntimeError):
    """An audio source that cannot be opened or stopped delivering; the message says why."""


class AudioSource:
    sample_rate = SAMPLE_RATE
    overflows = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _to_mono(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=1) if data.ndim == 2 else data


class _Pacer:
    """Sleeps so that blocks come out no faster than real time."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.start = None
        self.samples = 0

    def wait(self, n: int) -> None:
        if self.start is None:
            self.start = time.monotonic()
        self.samples += n
        delay = self.start + self.samples / self.sample_rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class WavFileSource(AudioSource):
    """A sound file, converted to mono at 16 kHz, in blocks of `block_ms`. Its samples are held to
    the API's rule (speechseq.audio.checked_floats): NaN, or floats far past full scale, raise
    InvalidAudioError (a ValueError) naming the file."""

    def __init__(self, path: str | Path, block_ms: float = 100.0, realtime: bool = False,
                 sample_rate: int = SAMPLE_RATE):
        import soundfile as sf

        self.path = Path(path)
        self.sample_rate = sample_rate
        self.block = max(1, round(block_ms * sample_rate / 1000))
        self.realtime = realtime
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a folder; give a sound file")
        try:
            self.info = sf.info(str(self.path))
        except Exception as exc:  # soundfile raises several types for unreadable files
            raise SourceError(f"{self.path}: cannot read as audio ({exc})") from None
        self.duration_s = self.info.frames / self.info.samplerate if self.info.samplerate else 0.0
        self._is_float = self.info.subtype in ("FLOAT", "DOUBLE")

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        pacer = _Pacer(self.sample_rate) if self.realtime else None
        rate = self.info.samplerate
        try:
            if rate == self.sample_rate:
                blocks = (_to_mono(checked_floats(b, str(self.path), self._is_float, InvalidAudioError))
                          for b in sf.blocks(str(self.path), blocksize=self.block, dtype="float32", always_2d=True))
            else:  # resampled whole (the filter needs the neighbours of every block), as read_audio does offline
                wave = read_audio(self.path, self.sample_rate, strict=True)
                blocks = (wave[i:i + self.block] for i in range(0, len(wave), self.block))
            for block in blocks:
                if pacer:
                    pacer.wait(len(block))
                yield block
        except (RuntimeError, ValueError) as exc:  # a file truncated mid-way
            if isinstance(exc, (SourceError, AudioReadError)):  # unusable samples: the API's own message
                raise
            raise SourceError(f"{self.path}: decoding failed mid-file ({exc})") from None


# --- microphone ---------------------------------------------------------------------------------

PORTAUDIO_HINT = ("install PortAudio: `sudo apt-get install libportaudio2` (Debian/Ubuntu), "
                  "`sudo dnf install portaudio` (Fedora), `brew install portaudio` (macOS)")


def import_sounddevice():
    """sounddevice, or SourceError with what to install."""
    try:
        import sounddevice
    except ImportError:
        raise SourceError("the microphone needs the sounddevice package: pip install 'speechseq[mic]'") from None
    except OSError as exc:  # sounddevice raises OSError('PortAudio library not found')
        raise SourceError(f"PortAudio is missing ({exc}); {PORTAUDIO_HINT}") from None
    return sounddevice


def input_devices(sd=None) -> list[dict]:
    sd = sd or import_sounddevice()
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices()) if d.get("max_input_channels", 0) > 0]


def describe_input_devices(sd=None) -> str:
    devices = input_devices(sd)
    if not devices:
        return "no audio input devices found"
    return "; ".join(f"{d['index']}: {d['name']}" for d in devices)


def parse_device(device) -> int | str | None:
    if device is None or device == "":
        return None
    if isinstance(device, int):
        return device
    text = str(device).strip()
    return int(text) if text.lstrip("-").isdigit() else text


class MicrophoneSource(AudioSource):
    """sounddevice InputStream at 16 kHz mono; the callback only copies blocks into a queue.

    Overflows reported by PortAudio and blocks dropped because the queue was full are counted.
    If no audio arrives for `stall_timeout_s` (device unplugged, stream aborted), iteration
    raises SourceError instead of waiting forever.
    """

    def __init__(self, device=None, block_ms: float = 50.0, sample_rate: int = SAMPLE_RATE,
                 queue_seconds: float = 10.0, stall_timeout_s: float = 3.0,
                 stream_factory: Callable | None = None):
        self.device = parse_device(device)
        self.sample_rate = sample_rate
        self.blocksize = max(1, round(block_ms * sample_rate / 1000))
        self.queue: queue.Queue = queue.Queue(maxsize=max(2, int(queue_seconds * 1000 / block_ms)))
        self.stall_timeout_s = stall_timeout_s
        self.overflows = 0        # PortAudio input overflows
        self.dropped_blocks = 0   # blocks lost because the consumer fell behind
        self._finished = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self.device_name = None
        self.stream = None
        if stream_factory is not None:
            self._factory = stream_factory
        else:  # find the device now, so a missing one fails before the model is loaded
            sd = import_sounddevice()
            if not input_devices(sd):
                raise SourceError("no audio input device found (PortAudio sees none): connect a microphone, "
                                  "or on a headless machine start a virtual one (see docs/streaming.md)")
            try:
                info = sd.query_devices(self.device, "input")
            except (ValueError, sd.PortAudioError) as exc:
                raise SourceError(f"no usable input device {self.device if self.device is not None else '(default)'} "
                                  f"({exc}); input devices: {describe_input_devices(sd)}") from None
            self.device_name = info["name"]
            self._factory = sd.InputStream

    def start(self) -> None:
        """Open and start the stream (iteration does this if needed)."""
        if self.stream is None:
            self.stream = self._open()

    def _open(self):
        factory = self._factory
        try:
            stream = factory(device=self.device, samplerate=self.sample_rate, channels=1, dtype="float32",
                             blocksize=self.blocksize, callback=self._callback,
                             finished_callback=self._finished.set)
            stream.start()
        except SourceError:
            raise
        except Exception as exc:  # sd.PortAudioError and friends
            raise SourceError(f"cannot open input device {self.device_name or self.device!r} at "
                              f"{self.sample_rate} Hz mono ({exc})") from None
        return stream

    def _callback(self, indata, frames, time_info, status) -> None:
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        try:
            self.queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.dropped_blocks += 1

    @property
    def lost(self) -> int:
        return self.overflows + self.dropped_blocks

    def request_stop(self) -> None:
        """End the iteration within 0.1 s; safe to call from a signal handler."""
        self._stop.set()

    def __iter__(self) -> Iterator[np.ndarray]:
        self.start()
        waited = 0.0
        while not self._closed and not self._stop.is_set():
            try:
                block = self.queue.get(timeout=0.1)
            except queue.Empty:
                waited += 0.1
                if self._closed or self._stop.is_set():
                    break
                if self._finished.is_set() or not getattr(self.stream, "active", True) or waited >= self.stall_timeout_s:
                    raise SourceError(f"the input device {self.device_name or self.device or '(default)'} "
                                      f"stopped delivering audio (disconnected?)")
                continue
            waited = 0.0
            yield block

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.stream is None:
            return
        try:
            self.stream.stop()
            self.stream.close()
        except Exception:  # a device that vanished may refuse to stop; nothing left to save
            pass


from speechseq.streaming.stdin_source import StdinPcmSource  # noqa: E402,F401  (importable from here too)

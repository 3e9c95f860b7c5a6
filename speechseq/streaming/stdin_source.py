"""Audio on standard input (`speechseq-stream input=-`): raw PCM, or a sound file piped in.

The first bytes say which. A WAV header (`cat x.wav |`, `arecord -t wav |`, `sox ... -t wav - |`)
is read for its rate, channels and sample format, and the data after it streams as it arrives, so a
live pipe stays live. FLAC, Ogg, AIFF and WAVs this reader does not stream (compressed ones) are
read whole and decoded with soundfile. Anything else is raw PCM: signed 16-bit little-endian at
`sample_rate` Hz with `channels` interleaved channels (`stream.input_rate`, `stream.input_channels`).
Every source yields float32 blocks, (samples,) or (samples, channels), at its own rate; the
Recognizer mixes them down, resamples and checks them as it does any audio.
"""

from __future__ import annotations

import io
import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from speechseq.streaming.sources import SAMPLE_RATE, AudioSource, SourceError, _Pacer

# sample format -> (bytes per sample, bytes -> float32 in [-1, 1] or the file's own floats)
SAMPLE_FORMATS = {
    "u8": (1, lambda b: (np.frombuffer(b, np.uint8).astype(np.float32) - 128.0) / 128.0),
    "s16le": (2, lambda b: np.frombuffer(b, "<i2").astype(np.float32) / 32768.0),
    "s24le": (3, lambda b: _int24(b) / np.float32(2 ** 23)),
    "s32le": (4, lambda b: (np.frombuffer(b, "<i4") / 2.0 ** 31).astype(np.float32)),
    "f32le": (4, lambda b: np.frombuffer(b, "<f4").astype(np.float32)),
    "f64le": (8, lambda b: np.frombuffer(b, "<f8").astype(np.float32)),
}
WAV_FORMATS = {(1, 8): "u8", (1, 16): "s16le", (1, 24): "s24le", (1, 32): "s32le", (3, 32): "f32le", (3, 64): "f64le"}
CONTAINERS = (b"fLaC", b"OggS", b"FORM", b"RF64")  # decoded whole by soundfile
UNKNOWN_SIZE = 0x7FFF0000  # data sizes from here up are placeholders of a live writer (arecord: 0x7FFFFFFF)


def _int24(data: bytes) -> np.ndarray:
    raw = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
    value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
    return np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.float32)


class StdinPcmSource(AudioSource):
    """Raw interleaved PCM from a byte stream (stdin by default): s16le mono at 16 kHz unless told.

    Reads whatever is available (up to one block), so a live pipe is processed promptly. A partial
    sample frame is kept until the rest arrives; one left over at the end is dropped and its bytes
    counted in `dropped_bytes`. `prefix`: bytes already read from the stream; `limit`: stop after
    this many bytes (a WAV's data chunk).
    """

    def __init__(self, stream: BinaryIO | None = None, block_ms: float = 100.0, realtime: bool = False,
                 sample_rate: int = SAMPLE_RATE, channels: int = 1, sample_format: str = "s16le",
                 prefix: bytes = b"", limit: int | None = None):
        if channels < 1:
            raise ValueError(f"stream.input_channels must be at least 1, got {channels}")
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        width, self._decode = SAMPLE_FORMATS[sample_format]
        self.frame_bytes = width * self.channels
        self.block_bytes = self.frame_bytes * max(1, round(block_ms * self.sample_rate / 1000))
        self.realtime, self.prefix, self.limit = realtime, prefix, limit
        self.dropped_bytes = 0
        self.samples_read = 0

    def _read(self, left: int | None) -> bytes:
        n = self.block_bytes if left is None else min(self.block_bytes, left)
        if n <= 0:
            return b""
        read1 = getattr(self.stream, "read1", None)
        return read1(n) if read1 else self.stream.read(n)

    def __iter__(self) -> Iterator[np.ndarray]:
        pacer = _Pacer(self.sample_rate) if self.realtime else None
        carry, left = b"", self.limit
        pending = self.prefix[:left] if left is not None else self.prefix
        while True:
            chunk = pending or self._read(left)
            pending = b""
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            data = carry + chunk
            usable = len(data) - len(data) % self.frame_bytes
            carry = data[usable:]
            if not usable:
                continue
            samples = self._decode(data[:usable])
            if self.channels > 1:
                samples = samples.reshape(-1, self.channels)
            self.samples_read += len(samples)
            if pacer:
                pacer.wait(len(samples))
            yield samples
        self.dropped_bytes = len(carry)


class DecodedSource(AudioSource):
    """A whole sound file already in memory (FLAC, Ogg, ... from a pipe), decoded by soundfile."""

    def __init__(self, data: bytes, block_ms: float = 100.0, realtime: bool = False, what: str = "input=-"):
        import soundfile as sf

        try:
            with sf.SoundFile(io.BytesIO(data)) as fh:
                self.sample_rate = fh.samplerate
                self.wave = fh.read(dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile raises several types for undecodable input
            raise SourceError(f"{what}: starts like a sound file but cannot be decoded "
                              f"({getattr(exc, 'error_string', None) or exc})") from None
        self.block = max(1, round(block_ms * self.sample_rate / 1000))
        self.realtime, self.dropped_bytes = realtime, 0

    def __iter__(self) -> Iterator[np.ndarray]:
        pacer = _Pacer(self.sample_rate) if self.realtime else None
        for i in range(0, len(self.wave), self.block):
            block = self.wave[i:i + self.block]
            if pacer:
                pacer.wait(len(block))
            yield block


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """`n` bytes (fewer only at the end of the stream), however the pipe delivers them."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def wav_stream_format(stream: BinaryIO, consumed: bytearray) -> tuple[int, int, str, int | None] | None:
    """(rate, channels, sample format, data bytes or None) of a RIFF/WAVE stream after its first 12
    bytes, read up to the start of the data; None for a WAV this reader cannot stream."""
    fmt = None
    while True:
        header = read_exactly(stream, 8)
        consumed += header
        if len(header) < 8:
            return None
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        if chunk_id == b"data":
            if fmt is None:
                return None
            return (*fmt, None if size == 0 or size >= UNKNOWN_SIZE else size)
        body = read_exactly(stream, size + size % 2)
        consumed += body
        if chunk_id == b"fmt " and len(body) >= 16:
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the GUID
                tag = struct.unpack("<H", body[24:26])[0]
            name = WAV_FORMATS.get((tag, bits))
            if name is None or channels < 1:
                return None
            fmt = (rate, channels, name)


def open_stdin(stream: BinaryIO | None = None, block_ms: float = 100.0, realtime: bool = False,
               raw_rate: int = SAMPLE_RATE, raw_channels: int = 1) -> AudioSource:
    """The source for `input=-`: a WAV streamed, another sound file decoded, else raw s16le PCM at
    `raw_rate` Hz with `raw_channels` channels (see the module docstring)."""
    stream = stream if stream is not None else sys.stdin.buffer
    head = read_exactly(stream, 12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        consumed = bytearray(head)
        fmt = wav_stream_format(stream, consumed)
        if fmt is not None:
            rate, channels, sample_format, size = fmt
            return StdinPcmSource(stream, block_ms, realtime, rate, channels, sample_format, limit=size)
        return DecodedSource(bytes(consumed) + stream.read(), block_ms, realtime)
    if head[:4] in CONTAINERS or head[:3] == b"ID3":
        return DecodedSource(head + stream.read(), block_ms, realtime)
    return StdinPcmSource(stream, block_ms, realtime, raw_rate, raw_channels, prefix=head)

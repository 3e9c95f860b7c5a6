"""The speechseq-serve WebSocket protocol: what a client may send, what it gets back.

Client -> server
  1. one text message, the hello:
       {"type": "hello", "format": "s16le", "sample_rate": 16000, "channels": 1}
  2. then binary messages of audio: signed 16-bit little-endian mono PCM at 16 kHz (the page
     resamples in the browser), an even number of bytes, at most `serve.max_message_bytes`.
     Audio may run ahead of real time by `serve.burst_s` and arrive at most `serve.max_speed`
     times faster than real time; at most `serve.max_messages_per_s` messages a second.
  The client ends the stream by closing the socket.

Server -> client (text, JSON)
  {"type": "ready", "labels": [...], "sample_rate": 16000, "hop_ms": ..., "frame_ms": 10, "n_mels": 40, "limits": {...}}
  {"type": "update", "t": seconds heard, "level_dbfs": ..., "mel": [[n_mels floats] per new frame],
   "probs": [one per label] | null, "dropped_s": ...}      (one per audio message processed)
  {"type": "detection", "time": seconds, "label": "...", "score": ...}

Anything else closes the connection with a WebSocket close code and a one-line reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

WIRE_FORMAT = "s16le"
WIRE_SAMPLE_RATE = 16000
WIRE_CHANNELS = 1

# RFC 6455 close codes
NORMAL = 1000
UNSUPPORTED = 1003      # a message type or sample format the server does not take
INVALID_PAYLOAD = 1007  # a message that does not parse
POLICY = 1008           # protocol order, rate or timeout broken
TOO_BIG = 1009
INTERNAL = 1011
TRY_AGAIN_LATER = 1013  # the server is full

MAX_REASON_BYTES = 123  # what a close frame can carry


class ProtocolError(Exception):
    """A client broke the protocol: close its connection with `code` and `reason`."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def close_reason(text: str) -> str:
    """`text` cut to fit a close frame (123 bytes of UTF-8)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[:MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


@dataclass(frozen=True)
class Limits:
    max_clients: int = 8
    max_message_bytes: int = 32000
    max_messages_per_s: float = 100.0
    max_speed: float = 2.0
    burst_s: float = 2.0
    max_backlog_ms: float = 1000.0
    hello_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0

    def __post_init__(self):
        if self.max_clients < 1:
            raise ValueError(f"serve.max_clients must be at least 1, got {self.max_clients}")
        if self.max_message_bytes < 2 or self.max_message_bytes % 2:
            raise ValueError(f"serve.max_message_bytes must be an even number >= 2, got {self.max_message_bytes}")
        for key in ("max_messages_per_s", "max_speed", "burst_s", "max_backlog_ms", "hello_timeout_s", "idle_timeout_s"):
            if getattr(self, key) <= 0:
                raise ValueError(f"serve.{key} must be positive, got {getattr(self, key)}")
        if self.burst_s * WIRE_SAMPLE_RATE * 2 < self.max_message_bytes or self.max_messages_per_s * self.burst_s < 1:
            raise ValueError(f"serve.burst_s={self.burst_s:g} must admit one message of serve.max_message_bytes="
                             f"{self.max_message_bytes} (and serve.max_messages_per_s * serve.burst_s >= 1)")

    @classmethod
    def from_config(cls, node) -> "Limits":
        return cls(**{key: type(getattr(cls, key))(node[key]) for key in cls.__dataclass_fields__})


def parse_hello(message: str) -> None:
    """Check the hello message; raise ProtocolError saying what is wrong with it."""
    try:
        hello = json.loads(message)
    except ValueError:
        raise ProtocolError(INVALID_PAYLOAD, "the first message must be a JSON hello") from None
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        raise ProtocolError(POLICY, 'the first message must be {"type": "hello", ...}')
    wanted = {"format": WIRE_FORMAT, "sample_rate": WIRE_SAMPLE_RATE, "channels": WIRE_CHANNELS}
    for key, value in wanted.items():
        if hello.get(key) != value:
            raise ProtocolError(UNSUPPORTED, f"unsupported sample format: {key}={hello.get(key)!r}; "
                                             f"the server takes {WIRE_FORMAT} mono at {WIRE_SAMPLE_RATE} Hz")


def decode_audio(data: bytes, limits: Limits) -> np.ndarray:
    """One binary message -> float32 samples in [-1, 1); ProtocolError if it is not valid audio."""
    if len(data) > limits.max_message_bytes:
        raise ProtocolError(TOO_BIG, f"message of {len(data)} bytes is over serve.max_message_bytes="
                                     f"{limits.max_message_bytes}")
    if len(data) == 0 or len(data) % 2:
        raise ProtocolError(INVALID_PAYLOAD, f"audio message of {len(data)} bytes: {WIRE_FORMAT} needs an even, "
                                             f"non-zero byte count")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


class RateGuard:
    """Token buckets on messages and on audio seconds; `admit` raises ProtocolError past them.

    Both buckets hold `burst_s` worth and refill at the allowed rate, so slack saved up by a
    client that sent slowly never exceeds `burst_s`.
    """

    def __init__(self, limits: Limits, now: float):
        self.limits = limits
        self.message_tokens = limits.max_messages_per_s * limits.burst_s
        self.audio_tokens = limits.burst_s
        self.last = now

    def admit(self, samples: int, now: float) -> None:
        lim = self.limits
        dt, self.last = max(0.0, now - self.last), now
        self.message_tokens = min(lim.max_messages_per_s * lim.burst_s, self.message_tokens + dt * lim.max_messages_per_s) - 1
        self.audio_tokens = min(lim.burst_s, self.audio_tokens + dt * lim.max_speed) - samples / WIRE_SAMPLE_RATE
        if self.message_tokens < 0:
            raise ProtocolError(POLICY, f"more than serve.max_messages_per_s={lim.max_messages_per_s:g} messages a second")
        if self.audio_tokens < 0:
            raise ProtocolError(POLICY, f"audio arriving faster than serve.max_speed={lim.max_speed:g} x real time "
                                        f"(beyond serve.burst_s={lim.burst_s:g} s)")


def ready_message(recognizer, limits: Limits) -> str:
    """The reply to the hello, from the connection's speechseq.Recognizer."""
    spec = recognizer.classifier.frontend
    return json.dumps({"type": "ready", "labels": recognizer.labels,
                       "sample_rate": WIRE_SAMPLE_RATE, "format": WIRE_FORMAT,
                       "hop_ms": recognizer.settings.hop_ms, "frame_ms": spec.hop_length * 1000 / spec.sample_rate,
                       "n_mels": spec.feature_dim, "limits": asdict(limits)})


def update_message(recognizer, dropped_s: float, probs_fresh: bool) -> str:
    """What a Recognizer's stream holds after one audio message: time, level, new log-mel frames,
    and the posteriors when a hop ran on this message (`probs_fresh`)."""
    stream = recognizer.stream
    probs = stream.probs if probs_fresh else None
    return json.dumps({"type": "update", "t": round(stream.samples_seen / recognizer.sample_rate, 4),
                       "level_dbfs": round(float(stream.level_dbfs), 1),
                       "mel": np.round(stream.latest_frames, 2).tolist(),
                       "probs": None if probs is None else np.round(probs, 4).tolist(),
                       "dropped_s": round(dropped_s, 3)})


def detection_message(det) -> str:
    """One KeywordDetection of the stream."""
    return json.dumps({"type": "detection", "time": round(det.time_s, 3), "label": det.label,
                       "score": round(float(det.score), 4)})

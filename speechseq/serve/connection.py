"""One WebSocket client: its own speechseq.Recognizer, fed by a bounded backlog of audio.

The receive loop checks every message (protocol.py) and queues the audio; a worker task feeds
the recognizer in a thread (the model call would otherwise stall every other client) and sends
the results back. Audio that would push the backlog past `serve.max_backlog_ms` is dropped and
counted, so a slow server stays live instead of falling further and further behind.
"""

from __future__ import annotations

import asyncio
import copy
import time

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from speechseq.serve.protocol import (
    INTERNAL,
    POLICY,
    UNSUPPORTED,
    WIRE_SAMPLE_RATE,
    ProtocolError,
    RateGuard,
    close_reason,
    decode_audio,
    detection_message,
    parse_hello,
    ready_message,
    update_message,
)
from speechseq.streaming.api import Recognizer
from speechseq.streaming.live_view import detection_line

_END = None  # queued after the last block


class Connection:
    def __init__(self, ws: WebSocket, hub, client_id: int):
        self.ws, self.hub, self.id = ws, hub, client_id
        self.limits = hub.limits
        self.recognizer: Recognizer | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.backlog_samples = 0
        self.dropped_samples = 0
        self.detections = 0
        self.client_gone = False

    @property
    def seconds_heard(self) -> float:
        recognizer = self.recognizer
        return recognizer.stream.samples_seen / recognizer.sample_rate if recognizer else 0.0

    async def run(self) -> str:
        """Serve until the client leaves or breaks the protocol; returns why it ended."""
        worker = None
        try:
            hello = await self._receive(self.limits.hello_timeout_s, "no hello message")
            if hello.get("text") is None:
                raise ProtocolError(POLICY, 'send the hello first: {"type": "hello", "format": "s16le", ...}')
            parse_hello(hello["text"])
            # a shallow copy: the model weights are shared, any streaming state is per connection
            self.recognizer = Recognizer(copy.copy(self.hub.classifier), self.hub.settings)
            await self.ws.send_text(ready_message(self.recognizer, self.limits))
            worker = asyncio.create_task(self._work())
            reason = await self._receive_audio(worker)
        except WebSocketDisconnect as exc:
            self.client_gone = True
            reason = "server shutting down" if exc.code == 1012 else f"client left (code {exc.code})"
        except ProtocolError as exc:
            reason = exc.reason
            await self._close(exc.code, exc.reason)
        except Exception as exc:  # a server bug: end this connection, keep the server
            reason = f"internal error: {type(exc).__name__}: {exc}"
            await self._close(INTERNAL, reason)
        finally:
            if worker is not None:
                self.queue.put_nowait(_END)
                await self._finish(worker)
        return reason

    async def _receive(self, timeout: float, what: str) -> dict:
        try:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
        except asyncio.TimeoutError:
            raise ProtocolError(POLICY, f"{what} for {timeout:g} s") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return message

    async def _receive_audio(self, worker: asyncio.Task) -> str:
        guard = RateGuard(self.limits, time.monotonic())
        max_backlog = round(self.limits.max_backlog_ms * WIRE_SAMPLE_RATE / 1000)
        while True:
            message = await self._receive(self.limits.idle_timeout_s, "no audio")
            if worker.done():
                worker.result()  # re-raises what stopped it
                return "worker stopped"
            if message.get("bytes") is None:
                raise ProtocolError(UNSUPPORTED, "text message after the hello: audio goes in binary messages")
            samples = decode_audio(message["bytes"], self.limits)
            guard.admit(samples.size, time.monotonic())
            if self.backlog_samples + samples.size > max_backlog:
                self.dropped_samples += samples.size
                continue
            self.backlog_samples += samples.size
            self.queue.put_nowait(samples)

    async def _work(self) -> None:
        """Feed queued blocks to the recognizer; print and send what comes out."""
        recognizer = self.recognizer
        while (samples := await self.queue.get()) is not _END:
            hops_before = len(recognizer.stream.hop_seconds)
            fired = await run_in_threadpool(recognizer.process, samples, WIRE_SAMPLE_RATE)
            self.backlog_samples -= samples.size
            for det in fired:
                print(detection_line(det), file=self.hub.stdout, flush=True)
                self.detections += 1
            # the update first: the page marks a detection on the spectrogram that already shows its frames
            await self._send(update_message(recognizer, self.dropped_samples / WIRE_SAMPLE_RATE,
                                            probs_fresh=len(recognizer.stream.hop_seconds) > hops_before))
            for det in fired:
                await self._send(detection_message(det))

    async def _send(self, text: str) -> None:
        if self.client_gone:
            return
        try:
            await self.ws.send_text(text)
        except Exception:  # the client went away mid-send; keep printing what its audio gives
            self.client_gone = True

    async def _finish(self, worker: asyncio.Task) -> None:
        """Let the worker finish the backlog (bounded by max_backlog_ms), then make sure it is gone."""
        try:
            await worker
        except Exception as exc:
            self.hub.log(f"client {self.id}: processing failed: {type(exc).__name__}: {exc}")
        finally:
            worker.cancel()

    async def _close(self, code: int, reason: str) -> None:
        self.client_gone = True
        try:
            await self.ws.close(code=code, reason=close_reason(reason))
        except Exception:  # already closed from the other side
            pass

"""The Starlette app of speechseq-serve: the page, its files, and the /ws audio endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from speechseq.serve.connection import Connection
from speechseq.serve.protocol import (
    TRY_AGAIN_LATER,
    WIRE_SAMPLE_RATE,
    Limits,
    close_reason,
)
from speechseq.streaming.recognizer import StreamSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"


class Hub:
    """What all connections share: the classifier, the settings, the count of clients, the logs.

    Each connection wraps the classifier (a shallow copy: shared weights, its own stream state)
    and the settings in a speechseq.Recognizer of its own."""

    def __init__(self, classifier, settings: StreamSettings, limits: Limits, stdout=None, stderr=None):
        if classifier.frontend.sample_rate != WIRE_SAMPLE_RATE:
            raise ValueError(f"the model wants {classifier.frontend.sample_rate} Hz audio; speechseq-serve streams "
                             f"{WIRE_SAMPLE_RATE} Hz")
        self.classifier, self.settings, self.limits = classifier, settings, limits
        self.stdout, self.stderr = stdout or sys.stdout, stderr or sys.stderr
        self.clients = 0
        self.last_id = 0

    def log(self, text: str) -> None:
        print(f"speechseq-serve: {text}", file=self.stderr, flush=True)


def peer(ws: WebSocket) -> str:
    return f"{ws.client.host}:{ws.client.port}" if ws.client else "unknown peer"


async def audio_endpoint(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    hub.last_id += 1
    client_id = hub.last_id
    await ws.accept()
    if hub.clients >= hub.limits.max_clients:
        reason = f"server full: {hub.clients} clients connected (serve.max_clients={hub.limits.max_clients}); try later"
        hub.log(f"client {client_id} from {peer(ws)} refused: {reason}")
        await ws.close(code=TRY_AGAIN_LATER, reason=close_reason(reason))
        return
    hub.clients += 1
    hub.log(f"client {client_id} connected from {peer(ws)} ({hub.clients}/{hub.limits.max_clients} clients)")
    connection = Connection(ws, hub, client_id)
    try:
        reason = await connection.run()
    finally:
        hub.clients -= 1
    hub.log(f"client {client_id} disconnected: {reason}; {connection.seconds_heard:.1f} s heard, "
            f"{connection.detections} detection(s), {connection.dropped_samples / WIRE_SAMPLE_RATE:.1f} s dropped "
            f"({hub.clients} left)")


async def index(request) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def build_app(hub: Hub) -> Starlette:
    app = Starlette(routes=[
        Route("/", index),
        WebSocketRoute("/ws", audio_endpoint),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ])
    app.state.hub = hub
    return app

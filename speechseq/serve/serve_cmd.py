"""`speechseq-serve`: the browser demo. Open http://HOST:PORT/ and press Start.

`speechseq-serve [checkpoint=PATH] [runtime=torch|onnx] [host=127.0.0.1] [port=8000] [serve.max_clients=8]`
Each detection of each client: `<seconds> <label> <score>` on stdout (seconds from the start of
that client's audio); connects, disconnects and refusals on stderr.
"""

from __future__ import annotations

import asyncio
import socket

from speechseq.cli import hydra_entry, run_guarded
from speechseq.serve.protocol import Limits
from speechseq.streaming.api import recognizer_for_config
from speechseq.streaming.recognizer import settings_from_config


def make_hub(cfg, classifier=None, stdout=None, stderr=None):
    from speechseq.serve.app import Hub

    limits = Limits.from_config(cfg.serve)
    # loaded as speechseq-stream loads it: the config's stream knobs over the model's calibration;
    # each connection then streams through a Recognizer of its own on this classifier and settings
    loaded = recognizer_for_config(cfg, classifier)
    return Hub(loaded.classifier, loaded.settings, limits, stdout, stderr)


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear error (and port=0 works)."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port={port}: must be within 0..65535 (0 picks a free one)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def make_server(hub, host: str, port: int):
    """The uvicorn server; run it on a socket from bind_socket: `server.run(sockets=[sock])`."""
    import uvicorn

    from speechseq.serve.app import build_app

    config = uvicorn.Config(build_app(hub), host=host, port=port, log_level="warning",
                            ws="websockets-sansio", lifespan="off",
                            # the protocol layer refuses frames far past the limit before they are
                            # buffered; the app gives the exact reason for the ones just past it
                            ws_max_size=4 * hub.limits.max_message_bytes + 1024)
    return uvicorn.Server(config)


async def serve_until_stopped(server, sock, hub) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        hub.log(f"open http://{shown}:{port}/ and press Start "
                f"(max {hub.limits.max_clients} clients; Ctrl-C to stop)")
    await task


def require_serve_packages() -> None:
    for name in ("starlette", "uvicorn", "websockets"):
        try:
            __import__(name)
        except ImportError:
            raise RuntimeError(f"speechseq-serve needs {name}, which is not installed here: "
                               f"pip install 'speechseq[serve]'") from None


def run_serve(cfg, classifier=None, stdout=None, stderr=None) -> None:
    require_serve_packages()
    settings_from_config(cfg.stream), Limits.from_config(cfg.serve)  # bad settings fail first...
    sock = bind_socket(cfg.host, cfg.port)  # ...then a busy port, before the model loads
    try:
        hub = make_hub(cfg, classifier, stdout, stderr)
        asyncio.run(serve_until_stopped(make_server(hub, cfg.host, cfg.port), sock, hub))
    finally:
        sock.close()


@hydra_entry("serve")
def main(cfg) -> None:
    run_guarded("speechseq-serve", lambda: run_serve(cfg), debug=cfg.debug)


if __name__ == "__main__":
    main()

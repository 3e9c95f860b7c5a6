#!/usr/bin/env python
"""Load benchmark of speechseq-serve: N clients streaming real-time audio over loopback at once.

Starts `speechseq-serve` (a subprocess, so clients and server do not share a GIL), then for each
N in --clients runs N WebSocket clients in one asyncio process, each sending the WAV in 100 ms
blocks paced by the wall clock, as a browser does. Per hop: the time from sending the block that
completes it to receiving the server's update for it. Dropped: audio the server discarded
because its backlog passed serve.max_backlog_ms, plus blocks never answered.

    python scripts/make_stream_wav.py ../shared/data/speech_commands_mini --split test --seconds 60 --out /tmp/s
    python scripts/bench_serve.py /tmp/s/stream.wav --clients 1 4 8 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
SR, BLOCK = 16000, 1600
HELLO = json.dumps({"type": "hello", "format": "s16le", "sample_rate": SR, "channels": 1})


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def start_server(max_clients: int, extra: list[str]) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "speechseq.serve.serve_cmd", "port=0",
                             f"serve.max_clients={max_clients}", "hydra.run.dir=.", *extra],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if (match := re.search(r"open http://127\.0\.0\.1:(\d+)/", line)):
            return proc, int(match[1])
    raise SystemExit("bench_serve: the server did not start")


async def one_client(url: str, pcm: bytes, seconds: float) -> dict:
    from websockets.asyncio.client import connect

    blocks = [pcm[i:i + 2 * BLOCK] for i in range(0, len(pcm), 2 * BLOCK)]
    n_blocks = int(seconds * SR / BLOCK)
    sent_at: dict[int, float] = {}  # samples seen after a block -> when it was sent
    latencies, last = [], {"dropped_s": 0.0, "t": 0.0}
    async with connect(url, max_size=None) as ws:
        await ws.send(HELLO)
        json.loads(await ws.recv())

        async def receive():
            async for message in ws:
                msg = json.loads(message)
                if msg["type"] != "update":
                    continue
                t = round(msg["t"] * SR)
                if msg["probs"] is not None and t in sent_at:
                    latencies.append(time.perf_counter() - sent_at[t])
                last.update(msg)

        receiver = asyncio.create_task(receive())
        start, samples = time.perf_counter(), 0
        for i in range(n_blocks):
            delay = start + i * BLOCK / SR - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            block = blocks[i % len(blocks)]
            samples += len(block) // 2
            sent_at[samples] = time.perf_counter()
            await ws.send(block)
        await asyncio.sleep(1.0)  # the last answers
        receiver.cancel()
    heard = last["t"]
    unanswered = max(0.0, samples / SR - heard - last["dropped_s"])
    return {"latencies": latencies, "dropped_s": last["dropped_s"] + unanswered, "sent_s": samples / SR}


async def run_clients(port: int, n: int, pcm: bytes, seconds: float) -> list[dict]:
    url = f"ws://127.0.0.1:{port}/ws"
    return await asyncio.gather(*(one_client(url, pcm, seconds) for _ in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav", help="a 16 kHz mono WAV (scripts/make_stream_wav.py makes one)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio each client streams")
    parser.add_argument("overrides", nargs="*", help="speechseq-serve overrides, e.g. runtime=onnx")
    args = parser.parse_intermixed_args()
    wave, rate = sf.read(args.wav, dtype="float32")
    if rate != SR or wave.ndim != 1:
        raise SystemExit(f"bench_serve: {args.wav} must be 16 kHz mono")
    pcm = (np.clip(wave, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()
    print(f"load average at the start: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    print("| clients | hops | per-hop latency p50 | p99 | max | audio dropped | server CPU per second of audio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.clients:
        server, port = start_server(n, args.overrides)
        try:
            cpu0 = cpu_seconds(server.pid)
            results = asyncio.run(run_clients(port, n, pcm, args.seconds))
            cpu1 = cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(30)
        ms = np.asarray([x for r in results for x in r["latencies"]]) * 1000
        dropped = sum(r["dropped_s"] for r in results)
        sent = sum(r["sent_s"] for r in results)
        cpu = f"{1000 * (cpu1 - cpu0) / sent:.1f} ms" if cpu0 is not None and cpu1 is not None else "n/a"
        print(f"| {n} | {ms.size} | {np.median(ms):.1f} ms | {np.percentile(ms, 99):.1f} ms | {ms.max():.1f} ms "
              f"| {dropped:.1f} s of {sent:.0f} s ({100 * dropped / sent:.2f} %) | {cpu} |", flush=True)


if __name__ == "__main__":
    main()

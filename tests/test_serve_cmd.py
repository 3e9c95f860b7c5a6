"""speechseq-serve as a Hydra app: its config, its one-line errors."""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from speechseq.serve.protocol import (  # noqa: E402
    Limits,
    ProtocolError,
    RateGuard,
    close_reason,
    parse_hello,
)
from speechseq.serve.serve_cmd import main  # noqa: E402
from tests.console import assert_one_error_line, run_main  # noqa: E402
from tests.streaming_helpers import compose_app  # noqa: E402


def test_defaults_listen_on_loopback_only():
    cfg = compose_app("serve", [])
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)
    assert Limits.from_config(cfg.serve) == Limits()  # the YAML and the dataclass agree
    assert compose_app("serve", ["serve.max_clients=2"]).serve.max_clients == 2


@pytest.mark.parametrize("args, fragments", [
    (["serve.max_clients=0"], ["serve.max_clients must be at least 1"]),
    (["serve.max_message_bytes=3"], ["serve.max_message_bytes must be an even number"]),
    (["serve.burst_s=0"], ["serve.burst_s must be positive"]),
    (["serve.burst_s=0.5"], ["serve.burst_s=0.5 must admit one message"]),
    (["port=70000"], ["port=70000: must be within 0..65535"]),
    (["stream.threshold=2"], ["stream.threshold must be within 0..1"]),
])
def test_bad_settings_are_one_line_errors(args, fragments, tmp_path, monkeypatch, capsys):
    code, out, err = run_main(main, "speechseq-serve", args, tmp_path, monkeypatch, capsys)
    assert code == 2 and out == ""
    assert_one_error_line(err, "speechseq-serve", *fragments)


def test_a_busy_port_is_one_line_error(tmp_path, monkeypatch, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_main(main, "speechseq-serve", [f"port={port}"], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, "speechseq-serve", f"cannot listen on 127.0.0.1:{port}")


def test_rate_guard_allows_real_time_and_refuses_a_flood():
    guard = RateGuard(Limits(max_speed=1.5, burst_s=1.0, max_messages_per_s=100.0), now=0.0)
    for i in range(100):  # 10 s of audio in 100 ms blocks, in real time
        guard.admit(1600, now=i * 0.1)
    with pytest.raises(ProtocolError, match="faster than serve.max_speed=1.5"):
        for _ in range(30):  # then 3 s at once
            guard.admit(1600, now=10.0)


def test_parse_hello_and_close_reasons():
    parse_hello('{"type": "hello", "format": "s16le", "sample_rate": 16000, "channels": 1}')
    with pytest.raises(ProtocolError) as exc:
        parse_hello('{"type": "hello", "format": "s16le", "sample_rate": 8000, "channels": 1}')
    assert exc.value.code == 1003
    long = close_reason("é" * 200)
    assert len(long.encode()) <= 123 and long.endswith("...")
    assert close_reason("short") == "short"

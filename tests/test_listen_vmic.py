"""speechseq-listen on a real (virtual) microphone: words played into it are printed back.

`../shared/tools/vmic.sh` (or $SPEECHSEQ_VMIC) makes a PulseAudio virtual microphone; the test
trains a small model on synthetic word tones, plays a stream of those words into the microphone
while `speechseq-listen` runs piped, stops it with SIGINT and compares what it printed with what
`speechseq-stream` finds in the same file with the same model and knobs.

The toy model is the run's final weights (not the earliest epoch at val accuracy 1.0, which is barely
trained) and the test streams with a 300 ms average and a 0.6 threshold (the 800 ms default
averages over windows holding only part of a 0.55 s tone). Over seeds 0-4 and ten hop phases the
played keywords then peak at >= 0.89 and a wrong keyword at <= 0.34, so neither side of the
threshold depends on the CPU's rounding (AVX2 vs AVX-512/AMX, thread count).
"""

import io
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.labels import COMMANDS_10
from tests.conftest import (
    FILLERS,
    compose_config,
    tiny_train_overrides,
    word_tone,
    write_synthetic_dataset,
)
from tests.streaming_helpers import compose_app

pytestmark = [pytest.mark.mic, pytest.mark.slow]

WORDS = COMMANDS_10 + FILLERS  # word_tone(i) is WORDS[i] in write_synthetic_dataset
PLAYED = ["yes", "left", "dog", "go", "stop", "bed", "no"]
KNOBS = ["stream.average_window_ms=300", "stream.threshold=0.6"]  # the same for listen and stream


@pytest.fixture(scope="module")
def tone_model(tmp_path_factory):
    """A small LSTM trained on synthetic word tones (about 20 s on one core): its final weights."""
    import torch

    from speechseq.deploy.checkpoint import load_inference, save_inference
    from speechseq.training.train import train

    tmp = tmp_path_factory.mktemp("vmic_model")
    root = write_synthetic_dataset(tmp / "data", clips_per_word=30)
    cfg = compose_config("train", tiny_train_overrides(root, tmp / "cache", epochs=6)
                         + ["trainer.test_after_training=false"], tmp / "run")
    summary = train(cfg)
    assert summary["best_val_acc"] > 0.9
    final = load_inference(summary["best_checkpoint"])
    final.model.load_state_dict(torch.load(summary["last_checkpoint"], weights_only=True)["model"])
    path = tmp / "final.safetensors"
    save_inference(path, final.model, final.labels, final.frontend)
    return path


def _stream_words(checkpoint: Path, wav: Path) -> list[str]:
    """What speechseq-stream reports for the file (its plain function, same knobs as listen)."""
    from speechseq.streaming.stream_cmd import run_stream

    cfg = compose_app("stream", [f"checkpoint={checkpoint}", f"input={wav}", *KNOBS])
    summary = run_stream(cfg, stdout=io.StringIO(), stderr=io.StringIO())
    return [d["label"] for d in summary["detections"]]


def _stream_wav(path: Path, gap_s=2.0, lead_s=1.0, tail_s=1.5) -> None:
    rng = np.random.default_rng(7)
    n = int(16000 * (lead_s + gap_s * len(PLAYED) + tail_s))
    wave = rng.normal(0, 0.003, n).astype(np.float32)
    for i, word in enumerate(PLAYED):
        start = int(16000 * (lead_s + i * gap_s))
        wave[start:start + 16000] += word_tone(WORDS.index(word), rng)
    sf.write(path, wave, 16000, subtype="PCM_16")


def test_listen_prints_the_words_played_into_the_virtual_microphone(vmic, tone_model, tmp_path):
    wav = tmp_path / "words.wav"
    _stream_wav(wav)
    proc = subprocess.Popen([sys.executable, "-m", "speechseq.streaming.listen", f"checkpoint={tone_model}",
                             "device=vmic", *KNOBS], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stderr_lines: list[str] = []
    ready = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            stderr_lines.append(line)
            if "listening on" in line:
                ready.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert ready.wait(180), f"speechseq-listen did not start: {''.join(stderr_lines)}"
        play = subprocess.run(["bash", str(vmic), "play", str(wav)], capture_output=True, text=True, timeout=120)
        assert play.returncode == 0, play.stderr
        time.sleep(1.5)  # the last word's detection comes up to ~1 s after it ends
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        stdout = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    err = "".join(stderr_lines)
    assert proc.returncode == 0, err
    rows = [line.split() for line in stdout.splitlines()]
    assert all(len(r) == 3 for r in rows), stdout
    heard = [r[1] for r in rows]
    assert heard == _stream_words(tone_model, wav), f"stdout:\n{stdout}\nstderr:\n{err}"
    expected = [w for w in PLAYED if w in COMMANDS_10]  # fillers are _unknown_, never printed
    assert heard == expected, f"stdout:\n{stdout}\nstderr:\n{err}"
    seconds = [float(r[0]) for r in rows]
    gaps = np.diff(seconds)
    assert all(1.0 < g < 7.0 for g in gaps), seconds  # words 2 s apart (4 s across a filler)
    assert "detection(s)" in err and "overflow(s)" in err and "Traceback" not in err

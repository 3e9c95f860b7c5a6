"""features=speech_embedding through the whole pipeline on synthetic clips: training, the checkpoint,
streaming against offline, export and runtime=onnx, runtime=numpy's refusal, config and CLI errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from speechseq.config import ConfigError, validate_train
from speechseq.features.embedding_spec import EmbeddingSpec, installed_model_path
from tests.conftest import REPO, compose_config, tiny_train_overrides, word_tone

pytestmark = pytest.mark.skipif(installed_model_path() is None,
                                reason="openwakeword (its embedding model) is not installed")


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    from speechseq.training.train import train

    tmp = tmp_path_factory.mktemp("embedding_run")
    cfg = compose_config("train", tiny_train_overrides(synthetic_root, tmp / "cache", epochs=3)
                         + ["features=speech_embedding"], tmp / "run")
    return train(cfg), tmp


def test_training_learns_and_the_checkpoint_records_the_front_end(trained):
    from speechseq.deploy.checkpoint import load_inference, read_metadata

    summary, _ = trained
    assert summary["status"] == "completed"
    assert summary["best_val_acc"] > 0.5  # 12 classes: chance is 0.08
    meta = read_metadata(summary["best_checkpoint"])
    assert meta["frontend"]["kind"] == "speech_embedding" and meta["model"]["n_inputs"] == 96
    loaded = load_inference(summary["best_checkpoint"])
    assert loaded.frontend == EmbeddingSpec()
    assert float(loaded.model.feature_std.min()) != 1.0  # normalisation fitted on the embeddings


def test_loading_the_checkpoint_builds_the_embedding_front_end(trained):
    """The round trip: the loaded model on its loaded front end gives the probabilities the
    streaming backend gives on the numpy/onnxruntime features of the same clips."""
    from speechseq.deploy.checkpoint import load_inference
    from speechseq.features.logmel import frontend_module
    from speechseq.features.speech_embedding import SpeechEmbedding
    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.frontend import frame_features

    path = trained[0]["best_checkpoint"]
    loaded = load_inference(path)
    frontend = frontend_module(loaded.frontend)
    assert isinstance(frontend, SpeechEmbedding)
    waves = np.stack([word_tone(i, np.random.default_rng(i)) for i in range(4)])
    with torch.no_grad():
        offline = torch.softmax(loaded.model(frontend(torch.from_numpy(waves))), -1).numpy()
    clf = load_classifier(path, "torch")
    streamed = np.stack([clf(frame_features(w, clf.frontend)) for w in waves])
    np.testing.assert_allclose(streamed, offline, atol=1e-4)


def test_streaming_gives_the_offline_class_on_a_clip(trained):
    """A clip placed on an embedding boundary inside a stream, fed in blocks that cut embeddings
    anywhere: the hop whose window holds exactly its three embeddings scores it as the model does
    the clip offline."""
    from speechseq.deploy.checkpoint import load_inference
    from speechseq.features.logmel import frontend_module
    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings

    path = trained[0]["best_checkpoint"]
    loaded = load_inference(path)
    rng = np.random.default_rng(7)
    clip = word_tone(3, rng)
    with torch.no_grad():
        offline = torch.softmax(loaded.model(frontend_module(loaded.frontend)(torch.from_numpy(clip[None]))), -1)[0]
    lead = 5 * 1280  # five embeddings' hops of faint noise before it: its embeddings are 5, 6 and 7
    stream = np.concatenate([rng.normal(0, 1e-3, lead), clip, rng.normal(0, 1e-3, 8000)]).astype(np.float32)
    clf = load_classifier(path, "torch")
    hops = []

    class Recording:  # the backend, keeping each hop's posteriors
        labels, frontend, metadata = clf.labels, clf.frontend, clf.metadata

        def __call__(self, features):
            hops.append(clf(features))
            return hops[-1]

    rec = StreamingRecognizer(Recording(), StreamSettings(hop_ms=80))
    assert (rec.hop_frames, rec.window_frames) == (1, 3)  # a hop per embedding, a window of three
    for start in range(0, len(stream), 999):
        rec.feed(stream[start:start + 999])
    at_clip = hops[5]  # the first hop ends on embedding 2, so hop 5 on embedding 7
    assert int(np.argmax(at_clip)) == int(offline.argmax())
    np.testing.assert_allclose(at_clip, offline.numpy(), atol=1e-4)


def test_export_carries_the_embedding_and_runtime_onnx_agrees(trained, tmp_path):
    from speechseq.deploy.export import export_onnx
    from speechseq.deploy.onnx_runtime import classify_file
    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.offline import window_posteriors

    path = trained[0]["best_checkpoint"]
    meta = export_onnx(path, tmp_path / "model.onnx")
    copy = tmp_path / "model.speech_embedding.onnx"
    assert copy.read_bytes() == installed_model_path().read_bytes()
    assert meta["frontend"]["kind"] == "speech_embedding" and meta["input"]["shape"][2] == 96
    assert json.loads((tmp_path / "model.json").read_text())["frontend_files"]["embedding_model"] == copy.name
    onnx_clf = load_classifier(tmp_path / "model.onnx", "onnx")
    assert onnx_clf.frontend.local_copy == str(copy)  # the export's own copy is used first
    wave = np.concatenate([word_tone(i, np.random.default_rng(i), 0.7) for i in range(5)]).astype(np.float32)
    _, ref = window_posteriors(load_classifier(path, "torch"), wave, 100.0)
    _, got = window_posteriors(onnx_clf, wave, 100.0)
    assert got.shape == ref.shape and len(got) > 10
    np.testing.assert_allclose(got, ref, atol=1e-4)
    import soundfile as sf

    sf.write(tmp_path / "clip.wav", word_tone(2, np.random.default_rng(0)), 16000)
    assert classify_file(onnx_clf, tmp_path / "clip.wav").label in onnx_clf.labels


def test_runtime_numpy_refuses_the_embedding_in_one_line(trained):
    from speechseq.errors import CheckpointError
    from speechseq.streaming.backends import load_classifier

    with pytest.raises(CheckpointError, match="runtime=numpy cannot run the speech_embedding") as info:
        load_classifier(trained[0]["best_checkpoint"], "numpy")
    assert "\n" not in str(info.value) and "runtime=onnx" in str(info.value)


def test_experiment_mini_composes_with_the_embedding(synthetic_root, tmp_path):
    from speechseq.augment.transforms import build_augmenters
    from speechseq.data.splits import NoiseBank
    from speechseq.training.data import frontend_spec

    cfg = compose_config("train", ["experiment=mini", "features=speech_embedding", f"data.root={synthetic_root}",
                                   "openworld.root=null"],
                         tmp_path)
    validate_train(cfg)
    assert frontend_spec(cfg) == EmbeddingSpec()
    assert cfg.model.frame_stack == 1  # its 3 frames are the RNN's steps; log-mel stacks 2 (3 under 10 min)
    short = compose_config("train", ["experiment=mini", "trainer.max_minutes=10", f"data.root={synthetic_root}"], tmp_path)
    assert short.model.frame_stack == 3
    noise = NoiseBank(torch.zeros(0, 16000))
    _, masks = build_augmenters(cfg.augment, noise, ["_silence_", "_unknown_", "yes"], EmbeddingSpec())
    assert (masks.freq_param, masks.num_time) == (cfg.augment.embedding_freq_mask_param, 0)


def test_experiment_enroll_trains_an_own_word_on_the_embedding_from_scratch(synthetic_root, tmp_path):
    """experiment=enroll is the log-mel enrolment (enroll_logmel) on the embedding: it composes and validates,
    starts from no model (no shipped one has this front end), keeps the own word's talk budget, and an own word
    trains end to end on it."""
    from speechseq.deploy.checkpoint import read_metadata
    from speechseq.training.train import train
    from tests.test_enroll import write_takes

    logmel = compose_config("train", ["experiment=enroll_logmel", "data.custom_root=mine",
                                      f"data.root={synthetic_root}"], tmp_path / "a")
    cfg = compose_config("train", ["experiment=enroll", "data.custom_root=mine", f"data.root={synthetic_root}"],
                         tmp_path / "b")
    validate_train(cfg)
    validate_train(logmel)
    assert (cfg.features.kind, cfg.model.frame_stack, cfg.trainer.init_from) == ("speech_embedding", 1, None)
    assert (logmel.features.kind, logmel.trainer.init_from) == ("logmel", "pretrained")
    assert cfg.calibration.max_detections_per_hour_of_talk == 10
    assert cfg.openworld.speech_percentage == 5 * logmel.openworld.speech_percentage
    assert (cfg.data.task, cfg.trainer.max_minutes) == (logmel.data.task, logmel.trainer.max_minutes)
    assert cfg.openworld.per_word and not logmel.openworld.per_word   # ten words draw as many negatives as one
    alias = compose_config("train", ["experiment=enroll_embedding", "data.custom_root=mine",
                                     f"data.root={synthetic_root}"], tmp_path / "c")
    assert OmegaConf.to_container(alias.openworld) == OmegaConf.to_container(cfg.openworld)
    assert (alias.features.kind, alias.trainer.init_from) == ("speech_embedding", None)

    write_takes(tmp_path / "mine", "alpha", 10, tone=20)
    write_takes(tmp_path / "mine", "beta", 10, tone=23)
    run = compose_config("train", tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=2)
                         + ["features=speech_embedding", "data.task=custom", f"data.custom_root={tmp_path / 'mine'}",
                            "data.tts_takes=0"], tmp_path / "run")
    summary = train(run)
    meta = read_metadata(summary["best_checkpoint"])
    assert meta["labels"] == ["_silence_", "_unknown_", "alpha", "beta"]
    assert meta["frontend"]["kind"] == "speech_embedding"


@pytest.mark.parametrize("override, key", [("augment.vtlp=[0.9,1.1]", "augment.vtlp"),
                                           ("augment.eq_db=6", "augment.eq_db"),
                                           ("features.sample_rate=8000", "features.sample_rate"),
                                           ("model.frame_stack=2", "model.frame_stack"),
                                           ("features.kind=wav2vec", "features.kind")])
def test_settings_the_embedding_cannot_honour_are_refused(synthetic_root, tmp_path, override, key):
    cfg = compose_config("train", [f"data.root={synthetic_root}", "features=speech_embedding", override], tmp_path)
    with pytest.raises(ConfigError, match=key):
        validate_train(cfg)


def test_resume_state_from_before_the_kind_key_still_resumes():
    from speechseq.deploy.checkpoint import check_resume_state

    old = {"model": {"cell": "lstm"}, "features": {"n_mels": 40}, "data": {"task": "v2_12", "words": None}}
    state = {k: 0 for k in ("epoch", "model", "optimizer", "scaler", "best_val_acc", "best_epoch", "history")}
    state["config"] = json.dumps(old)
    new = {**old, "features": {"n_mels": 40, "kind": "logmel"}}
    check_resume_state("last.pt", state, new)  # no error: a missing kind was log-mel
    with pytest.raises(Exception, match="features.kind"):
        check_resume_state("last.pt", state, {**old, "features": {"n_mels": 40, "kind": "speech_embedding"}})


def test_train_without_onnxruntime_fails_in_one_line_naming_it(synthetic_root, tmp_path):
    shim = tmp_path / "shim" / "onnxruntime"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('onnxruntime is not installed (test shim)')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(REPO)])}
    proc = subprocess.run([sys.executable, "-m", "speechseq.training.train", f"data.root={synthetic_root}",
                           "features=speech_embedding", f"hydra.run.dir={tmp_path / 'run'}"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs the onnxruntime package" in lines[0] and "pip install" in lines[0]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_torch_network_runs_the_embedding_and_training_learns(synthetic_root, tmp_path):
    from speechseq.features.embedding_onnx import OnnxEmbedder
    from speechseq.features.speech_embedding import SpeechEmbedding
    from speechseq.training.train import train

    waves = np.stack([word_tone(i, np.random.default_rng(i)) for i in range(4)])
    got = SpeechEmbedding()(torch.from_numpy(waves).cuda())  # auto: the converted network, on the GPU
    assert got.device.type == "cuda"
    ref = np.stack([OnnxEmbedder()(w) for w in waves])
    assert np.abs(got.cpu().numpy() - ref).max() < 1e-2 * np.abs(ref).max()  # cuDNN may convolve in TF32
    overrides = [o for o in tiny_train_overrides(synthetic_root, tmp_path / "cache", 4) if not o.startswith("trainer.device")]
    summary = train(compose_config("train", overrides + ["trainer.device=cuda", "features=speech_embedding",
                                                         "trainer.test_after_training=false"], tmp_path / "run"))
    assert summary["status"] == "completed" and summary["best_val_acc"] > 0.5

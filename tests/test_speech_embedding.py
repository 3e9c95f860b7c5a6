"""The speech-embedding front end itself: its mel against openWakeWord's graph, the torch and
onnxruntime embeddings against the unmodified ONNX file, shapes, determinism, streaming, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechseq.features import embedding_spec
from speechseq.features.embedding_mel import mel_frames, slaney_filterbank
from speechseq.features.embedding_spec import (
    EmbeddingSpec,
    EmbeddingUnavailable,
    embedding_model_path,
    installed_model_path,
    require_module,
)
from speechseq.features.spec import FrontendSpec, frontend_from_dict
from tests.conftest import word_tone

needs_model = pytest.mark.skipif(installed_model_path() is None, reason="openwakeword (its embedding model) is not installed")


def clips(n: int = 4, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([word_tone(i, rng, seconds) for i in range(n)])


@pytest.fixture(scope="module")
def onnx_windows():
    """The unmodified embedding_model.onnx on 76-frame windows 8 apart: the reference."""
    from speechseq.features.embedding_onnx import OnnxEmbedder

    return OnnxEmbedder()


def test_an_embedding_is_a_frame_of_80_ms():
    spec = EmbeddingSpec()
    assert (spec.hop_length, spec.n_fft, spec.feature_dim) == (1280, 12512, 96)
    assert [spec.num_frames(n) for n in (12511, 12512, 13791, 13792, 16000)] == [0, 1, 1, 2, 3]
    assert spec.frame_end_sample(2) == 2 * 1280 + 12512
    # mel frames: 1 + (n - 512) // 160; embeddings: one per 8 of them from 76 on
    for n in (12512, 16000, 33333):
        assert spec.num_frames(n) == (len(mel_frames(np.zeros(n))) - 76) // 8 + 1


def test_the_spec_round_trips_and_log_mel_dicts_stay_log_mel():
    spec = EmbeddingSpec()
    assert frontend_from_dict(spec.to_dict()) == spec and "local_copy" not in spec.to_dict()
    assert frontend_from_dict(FrontendSpec().to_dict()) == FrontendSpec()  # no kind: log-mel, as before
    with pytest.raises(ValueError, match="frontend kind"):
        frontend_from_dict({"kind": "wav2vec"})
    with pytest.raises(ValueError, match="16000"):
        EmbeddingSpec(sample_rate=8000)


def test_the_filterbank_is_librosas_slaney_mel():
    import librosa

    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=32, fmin=60, fmax=3800).T
    np.testing.assert_allclose(slaney_filterbank(), ref, atol=1e-7)


@needs_model
def test_the_mel_equals_openwakewords_graph_where_its_floor_does_not_bind():
    """melspectrogram.onnx floors at (whole input's max - 80 dB); a tone over noise spans less than
    80 dB, so there the per-frame floor changes nothing and the two must agree."""
    from speechseq.features.embedding_onnx import ort_session

    session = ort_session(installed_model_path().with_name("melspectrogram.onnx"))
    wave = clips(1, seconds=1.5, seed=4)[0] + np.random.default_rng(1).normal(0, 0.01, 24000).astype(np.float32)
    ref = np.squeeze(session.run(None, {"input": (wave * 32768)[None].astype(np.float32)})[0]) / 10 + 2
    ours = mel_frames(wave)
    assert ours.shape == ref.shape == (147, 32)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_each_mel_frame_depends_on_its_own_samples_only():
    """Digital silence next to a loud word: the floor is per frame, so a frame is the same cut out
    of any longer signal (which a whole-input floor would break)."""
    wave = np.concatenate([np.zeros(8000, np.float32), clips(1)[0]])
    whole = mel_frames(wave)
    np.testing.assert_array_equal(mel_frames(wave[:5000]), whole[:len(mel_frames(wave[:5000]))])
    np.testing.assert_array_equal(mel_frames(wave[1600:]), whole[10:])
    assert whole[:10].max() < -5  # the silent frames keep their floor (1e-10 -> -100 dB -> -8)


@needs_model
@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_the_torch_module_gives_the_onnx_files_embeddings(onnx_windows, engine):
    from speechseq.features.speech_embedding import SpeechEmbedding

    waves = clips(5)
    got = SpeechEmbedding(engine=engine)(torch.from_numpy(waves)).numpy()
    ref = np.stack([onnx_windows(w) for w in waves])
    assert got.shape == ref.shape == (5, 3, 96)
    # float32 mel in torch, float64 in numpy: the embeddings (up to ~50) agree to 1e-4
    np.testing.assert_allclose(got, ref, atol=1e-4)
    longer = SpeechEmbedding(engine=engine)(torch.from_numpy(clips(2, seconds=2.0)))
    assert longer.shape == (2, EmbeddingSpec().num_frames(32000), 96)


@needs_model
def test_the_whole_clip_graph_equals_the_windows(onnx_windows):
    from speechseq.features.embedding_onnx import full_conv_graph, ort_session

    session = ort_session(full_conv_graph(installed_model_path()))
    mel = mel_frames(clips(1, seconds=3.0)[0])
    whole = session.run(None, {"input_1": mel[None, :, :, None]})[0][0]
    np.testing.assert_allclose(whole, onnx_windows.embed_mel(mel), atol=1e-5)


@needs_model
def test_embeddings_are_deterministic_and_independent_of_the_batch():
    from speechseq.features.speech_embedding import SpeechEmbedding

    emb = SpeechEmbedding()
    waves = torch.from_numpy(clips(6))
    first, second = emb(waves), emb(waves)
    assert torch.equal(first, second)
    np.testing.assert_allclose(emb(waves[2:3]).numpy(), first[2:3].numpy(), atol=1e-5)


@needs_model
def test_streamed_embeddings_equal_the_whole_signal(onnx_windows):
    from speechseq.streaming.frontend import IncrementalEmbedding, frame_features

    wave = np.concatenate([clips(3, seed=2).reshape(-1), np.zeros(3000, np.float32)])
    whole = frame_features(wave, EmbeddingSpec())
    inc, out, i = IncrementalEmbedding(), [], 0
    for size in [100, 1280, 7, 5000, 12512, 333] * 10:
        out.append(inc.push(wave[i:i + size]))
        i += size
    streamed = np.concatenate(out)
    assert streamed.shape == whole.shape == (EmbeddingSpec().num_frames(len(wave)), 96)
    assert inc.frames_out == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_a_missing_openwakeword_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(embedding_spec.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingUnavailable, match="needs the openwakeword package") as info:
        embedding_model_path()
    assert "\n" not in str(info.value) and "pip install" in str(info.value)
    from speechseq.features.logmel import frontend_module

    with pytest.raises(EmbeddingUnavailable, match="openwakeword"):
        frontend_module(EmbeddingSpec())


def test_a_missing_onnxruntime_is_one_line_naming_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(EmbeddingUnavailable, match="needs the onnxruntime package") as info:
        require_module("onnxruntime", "onnxruntime", "to run the embedding model")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, RuntimeError)  # the console scripts print it as one line, exit 2


@needs_model
def test_another_model_file_is_refused(tmp_path):
    wrong = tmp_path / "model.speech_embedding.onnx"
    wrong.write_bytes(b"not the model")
    with pytest.raises(EmbeddingUnavailable, match="not the embedding model"):
        embedding_model_path(EmbeddingSpec(local_copy=str(wrong)))
    right = tmp_path / "copy.onnx"
    right.write_bytes(installed_model_path().read_bytes())
    assert embedding_model_path(EmbeddingSpec(local_copy=str(right))) == right

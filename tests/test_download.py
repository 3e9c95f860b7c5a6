"""`speechseq-data download`: the torchaudio download path, with the network replaced by a local writer."""

import pytest
from omegaconf import OmegaConf

from speechseq.data import download as dl
from speechseq.data.layout import DatasetError
from tests.conftest import write_synthetic_dataset


def test_download_unpacks_where_torchaudio_puts_it_and_verifies(tmp_path, monkeypatch, capsys):
    calls = []

    class FakeSpeechCommands:  # stands in for the network only: writes what the archive would hold
        def __init__(self, root, url, download):
            calls.append((root, url, download))
            write_synthetic_dataset(dl.dataset_folder(root, url.split("_")[-1]), clips_per_word=5)

    import torchaudio.datasets

    monkeypatch.setattr(torchaudio.datasets, "SPEECHCOMMANDS", FakeSpeechCommands)
    dl.run(OmegaConf.create({"action": "download", "root": str(tmp_path), "version": "v0.02", "debug": False}))
    assert calls == [(str(tmp_path), "speech_commands_v0.02", True)]
    out = capsys.readouterr().out
    assert "13 word folders, 65 clips" in out
    assert f"data.root={tmp_path}/SpeechCommands/speech_commands_v0.02" in out

    # verify finds the unpacked folder from the same root
    dl.run(OmegaConf.create({"action": "verify", "root": str(tmp_path), "version": "v0.02", "debug": False}))
    assert "lists layout" in capsys.readouterr().out


def test_failed_download_is_a_dataset_error(tmp_path, monkeypatch):
    class Offline:
        def __init__(self, **kwargs):
            raise OSError("Name or service not known")

    import torchaudio.datasets

    monkeypatch.setattr(torchaudio.datasets, "SPEECHCOMMANDS", Offline)
    with pytest.raises(DatasetError, match="download of Speech Commands v0.02 failed"):
        dl.download(tmp_path, "v0.02")


def test_unknown_version_is_rejected(tmp_path):
    with pytest.raises(DatasetError, match="version"):
        dl.download(tmp_path, "v3")

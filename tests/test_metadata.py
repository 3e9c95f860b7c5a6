"""The metadata reader that checkpoints and ONNX exports share: damaged, foreign and newer formats."""

import json
import shutil

import pytest

from speechseq.deploy.metadata import ONNX_FORMAT, decode_metadata
from speechseq.deploy.onnx_runtime import OnnxClassifier, OnnxModelError
from speechseq.deploy.pretrained import PRETRAINED_DIR


class Refused(Exception):
    pass


@pytest.mark.parametrize("raw, expected", [
    ("{not json", "damaged metadata"),
    ("[1, 2]", "a JSON list, not an object"),
    ("{}", "without a format version (None)"),
    ('{"format_version": "1"}', "without a format version ('1')"),
    ('{"format_version": true}', "without a format version (True)"),
    ('{"format_version": 7}', "thing format 7 is newer than this speechseq understands (3); upgrade speechseq"),
])
def test_unusable_metadata_is_refused_with_the_reason(raw, expected):
    with pytest.raises(Refused, match="^m.json: ") as err:
        decode_metadata(raw, "m.json", 3, "thing", Refused)
    assert expected in str(err.value)


def test_current_and_older_formats_are_read():
    assert decode_metadata('{"format_version": 3, "labels": ["a"]}', "m", 3, "thing", Refused)["labels"] == ["a"]
    assert decode_metadata('{"format_version": 1}', "m", 3, "thing", Refused) == {"format_version": 1}


def test_onnx_runtime_refuses_an_export_from_a_newer_speechseq(tmp_path):
    onnx = shutil.copy(PRETRAINED_DIR / "kws12_mini.onnx", tmp_path / "model.onnx")
    meta = json.loads((PRETRAINED_DIR / "kws12_mini.json").read_text())
    assert meta["format_version"] == ONNX_FORMAT  # the shipped export is current
    (tmp_path / "model.json").write_text(json.dumps({**meta, "format_version": ONNX_FORMAT + 1}))
    with pytest.raises(OnnxModelError, match=f"export format {ONNX_FORMAT + 1} is newer"):
        OnnxClassifier(onnx)

"""Open-world streams (commands among other words and talk) and the open-world data in a training run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from speechseq.streaming.open_stream import OpenStreamRecipe, StreamPools, build_open_stream, read_talk, write_open_stream
from tests.test_openworld import write_real_world

SR = 16000


@pytest.fixture
def pools(synthetic_root, tmp_path):
    from speechseq.data.layout import scan_dataset
    from speechseq.data.real_world import scan_real_world
    from speechseq.evaluation.openworld_stream import stream_pools
    from speechseq.labels import make_label_set

    rw = scan_real_world(write_real_world(tmp_path / "real_world"))
    return stream_pools(scan_dataset(synthetic_root), "train", make_label_set("v2_12"), rw, "train")


def test_pools_hold_commands_other_words_talk_and_noise(pools):
    assert len(pools.commands) == 10 and all(pools.commands.values())
    assert pools.unknown and pools.others and pools.talk and pools.noise
    assert not any("p1" in str(p) for p in pools.others + pools.talk)  # "turn it on" says a command


def test_stream_is_deterministic_and_lists_words_and_talk(pools):
    recipe = OpenStreamRecipe(seconds=120.0)
    wave, words, talk = build_open_stream(pools, recipe, seed=1)
    again, words2, talk2 = build_open_stream(pools, recipe, seed=1)
    other, _, _ = build_open_stream(pools, recipe, seed=2)
    assert np.array_equal(wave, again) and words == words2 and talk == talk2
    assert not np.array_equal(wave, other)
    assert len(wave) == 120 * SR and np.abs(wave).max() <= 1.0
    assert talk and all(s.end_ms > s.start_ms for s in talk)
    spans = sorted([(w.start_ms, w.start_ms + 1000) for w in words] + [(s.start_ms, s.end_ms) for s in talk])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # events never overlap


def test_commands_are_balanced_over_the_classes(pools):
    pools.commands["yes"] = pools.commands["yes"] * 20  # one word with far more clips than the others
    _, words, _ = build_open_stream(pools, OpenStreamRecipe(seconds=900.0, shares=(1, 0, 0, 0)), seed=0)
    counts = {w: sum(x.label == w for x in words) for w in pools.commands}
    assert max(counts.values()) < 2.5 * min(counts.values())


def test_commands_are_drawn_by_speaker_so_a_speaker_with_many_clips_is_one_voice(pools, tmp_path):
    from speechseq.data.layout import speaker_of

    # one speaker with 30 clips of "yes" beside the few speakers who said it once
    (tmp_path / "yes").mkdir()
    many = []
    for i in range(30):
        many.append(tmp_path / "yes" / f"b1gb1gb1_nohash_{i}.wav")
        many[-1].symlink_to(pools.commands["yes"][0])
    others = len({speaker_of(p) for p in pools.commands["yes"]})
    pools.commands["yes"] = pools.commands["yes"] + many
    only = OpenStreamRecipe(seconds=1200.0, shares=(1, 0, 0, 0))

    def share(draw):
        _, words, _ = build_open_stream(pools, dataclasses.replace(only, draw=draw), seed=0)
        yes = [w for w in words if w.label == "yes"]
        return sum("b1gb1gb1" in w.path for w in yes) / len(yes)

    assert share("speaker") == pytest.approx(1 / (others + 1), abs=0.05)
    assert share("clip") > 0.6  # 30 of its clips against one each of the others
    with pytest.raises(ValueError, match="draw must be one of"):
        OpenStreamRecipe(draw="voice")


def test_a_stream_folder_built_from_another_recipe_is_built_again(pools, tmp_path):
    from speechseq.evaluation.openworld_stream import _built_from, make_open_stream

    recipe = OpenStreamRecipe(seconds=60.0, draw="clip")
    make_open_stream(tmp_path / "s", pools, recipe, seed=3)
    assert _built_from(tmp_path / "s", recipe, 3)
    assert not _built_from(tmp_path / "s", dataclasses.replace(recipe, draw="speaker"), 3)
    assert not _built_from(tmp_path / "s", recipe, 4)
    (tmp_path / "s" / "recipe.json").write_text("{not json")
    assert not _built_from(tmp_path / "s", recipe, 3)


def test_written_stream_has_talk_csv(pools, tmp_path):
    wave, words, talk = build_open_stream(pools, OpenStreamRecipe(seconds=60.0), seed=0)
    wav = write_open_stream(tmp_path / "s", wave, words, talk)
    assert wav.is_file() and read_talk(tmp_path / "s" / "talk.csv") == [(s.start_ms, s.end_ms) for s in talk]


def test_open_world_scores_count_other_words_and_talk():
    from speechseq.evaluation.openworld_stream import score_open_stream
    from speechseq.streaming.smoothing import Detection
    from speechseq.streaming.sweep import PosteriorTrack

    track = PosteriorTrack([0.0], np.zeros((1, 3)), ["_unknown_", "yes", "no"],
                           [("yes", 1000.0), ("_unknown_", 5000.0), ("_unknown_", 9000.0)], 3600.0)

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "words.csv").write_text("label,start_ms,end_ms,word,file\nyes,1000,1500,yes,a.wav\n"
                                     "_unknown_,5000,5500,amelia,other.wav\n_unknown_,9000,9500,bed,bed.wav\n")
        (d / "talk.csv").write_text("start_ms,end_ms,file\n20000,380000,t.flac\n")
        dets = [Detection(1400.0, "yes", 0.9), Detection(5600.0, "no", 0.8), Detection(9400.0, "no", 0.8),
                Detection(30000.0, "yes", 0.8), Detection(380500.0, "no", 0.8), Detection(900000.0, "no", 0.8)]
        r = score_open_stream(track, dets, d / "words.csv", d / "talk.csv", {"other.wav"})
    assert r["correct"] == 1 and r["other_words"] == 1 and r["other_words_firing"] == 1
    assert r["detections_in_talk"] == 2 and r["talk_minutes"] == pytest.approx(6.0)
    assert r["detections_per_hour_of_talk"] == pytest.approx(20.0)


def test_stream_figures_say_which_speakers_the_commands_rest_on(tmp_path):
    from speechseq.evaluation.openworld_report import format_openworld
    from speechseq.evaluation.openworld_stream import command_speakers
    from speechseq.streaming.smoothing import Detection
    from speechseq.streaming.sweep import PosteriorTrack

    # four commands of speaker a (one caught), two of b (both caught), one other word by c
    starts = [1000.0, 5000.0, 9000.0, 13000.0, 17000.0, 21000.0, 25000.0]
    files = ["yes/a_nohash_0.wav", "no/a_nohash_1.wav", "yes/a_nohash_2.wav", "no/a_nohash_3.wav",
             "yes/b_nohash_0.wav", "no/b_nohash_0.wav", "bed/c_nohash_0.wav"]
    labels = ["yes", "no", "yes", "no", "yes", "no", "_unknown_"]
    (tmp_path / "words.csv").write_text("label,start_ms,end_ms,word,file\n" + "".join(
        f"{lab},{s:g},{s + 500:g},{lab},{f}\n" for lab, s, f in zip(labels, starts, files)))
    track = PosteriorTrack([0.0], np.zeros((1, 3)), ["_unknown_", "yes", "no"], list(zip(labels, starts)), 60.0)
    dets = [Detection(1400.0, "yes", 0.9), Detection(5400.0, "yes", 0.9),  # a: one right, one wrong
            Detection(17400.0, "yes", 0.9), Detection(21400.0, "no", 0.9), Detection(25400.0, "no", 0.9)]
    k = command_speakers(track, dets, tmp_path / "words.csv")
    assert k["speakers"] == 2 and k["clips"] == 6 and k["largest"] == "a"
    assert k["largest_share_pct"] == pytest.approx(100 * 4 / 6)
    assert k["largest_correct_pct"] == pytest.approx(25.0) and k["others_correct_pct"] == pytest.approx(100.0)
    assert k["speaker_balanced_correct_pct"] == pytest.approx(62.5)   # (25 + 100) / 2, not 3 of 6
    stream = {"correct_pct": 50.0, "command_words": 6, "other_words_firing_pct": 100.0, "other_words": 1,
              "detections_per_hour_of_talk": 0.0, "talk_minutes": 0.0, "false_alarms_per_hour": 60.0, "speakers": k}
    text = format_openworld({"split": "test", "other_words": {"as_command_pct": 0.0, "n": 0, "by_command": {}},
                             "sounds": {"as_command_pct": 0.0, "n": 0, "by_command": {}}, "stream": stream})
    assert "commands by 2 speakers, the largest (a) 67 % of them: 25.0 % correct, the others 100.0 %" in text
    assert "every speaker weighing the same 62.5 %" in text
    # takes whose names say no speaker are each their own: the line would say nothing
    text = format_openworld({"split": "test", "other_words": {"as_command_pct": 0.0, "n": 0, "by_command": {}},
                             "sounds": {"as_command_pct": 0.0, "n": 0, "by_command": {}},
                             "stream": {**stream, "command_words": 2, "speakers": {**k, "largest_share_pct": 50.0, "clips": 2}}})
    assert "stream:" in text and "speakers" not in text
    # nor where takes are played more than once (an own word's 203 takes as 218 commands)
    text = format_openworld({"split": "test", "other_words": {"as_command_pct": 0.0, "n": 0, "by_command": {}},
                             "sounds": {"as_command_pct": 0.0, "n": 0, "by_command": {}},
                             "stream": {**stream, "command_words": 3, "speakers": {**k, "clips": 2}}})
    assert "stream:" in text and "speakers" not in text


def test_training_draws_open_world_negatives_and_noise(train_cfg, tmp_path):
    from speechseq.training.data import frontend_spec, prepare_data

    root = write_real_world(tmp_path / "real_world")
    cfg = train_cfg(f"openworld.root={root}", "openworld.filter_checkpoint=null", "openworld.speech_percentage=50")
    data = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    assert data.train.n_negative > 0 and data.validation.n_negative > 0
    ow = data.report["openworld"]
    assert ow["train"]["windows"] == len(data.train.negative_idx)
    from speechseq.data.real_world import scan_real_world

    p1_split = next(f.split for f in scan_real_world(root).files if f.path.name == "p1.wav")  # "turn it on"
    for name in ("train", "validation"):
        assert ow[name]["files_saying_a_keyword"] == (1 if p1_split == name else 0)
    assert data.report["noise_files_recorded"] >= 1
    json.dumps(data.report)  # data_report.json must be writable
    again = prepare_data(cfg, frontend_spec(cfg), load_test=False)  # the second run reads the cache
    assert np.array_equal(again.train.waves.numpy(), data.train.waves.numpy())


def test_per_word_negatives_count_one_words_clips(train_cfg, tmp_path):
    """openworld.per_word: the negatives drawn per epoch are the percentage of one word's clips, not all."""
    import math

    from speechseq.training.data import frontend_spec, prepare_data

    root = write_real_world(tmp_path / "real_world")
    base = (f"openworld.root={root}", "openworld.filter_checkpoint=null", "openworld.speech_percentage=50")
    plain = prepare_data(train_cfg(*base), frontend_spec(train_cfg(*base)), load_test=False)
    cfg = train_cfg(*base, "openworld.per_word=true")
    per_word = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    words = len(per_word.label_set.words)
    assert words > 1 and len(per_word.train.negative_idx) > 1
    for name in ("train", "validation"):
        a, b = getattr(plain, name), getattr(per_word, name)
        assert a.n_negative == min(len(a.negative_idx), math.ceil(len(a.keyword_idx) * 0.5))
        assert b.n_negative == min(len(b.negative_idx), math.ceil(len(b.keyword_idx) * 0.5 / words))
    assert per_word.train.n_negative < plain.train.n_negative


def test_windows_a_model_takes_for_a_keyword_are_left_out(train_cfg, tmp_path, monkeypatch):
    import speechseq.training.openworld as ow
    from speechseq.training.data import frontend_spec, prepare_data

    root = write_real_world(tmp_path / "real_world")
    monkeypatch.setattr(ow, "keyword_scores", lambda windows, checkpoint: np.linspace(0, 1, len(windows)))
    cfg = train_cfg(f"openworld.root={root}", "openworld.filter_checkpoint=some.safetensors",
                    "openworld.filter_threshold=0.5", f"data.cache_dir={tmp_path / 'c2'}")
    report = prepare_data(cfg, frontend_spec(cfg), load_test=False).report["openworld"]["train"]
    assert report["filtered_as_keyword"] == pytest.approx(report["untranscribed_windows"] / 2, abs=1)
    assert report["windows"] == report["transcribed_windows"] + report["untranscribed_windows"] \
        - report["filtered_as_keyword"]


def test_a_missing_filter_checkpoint_is_a_config_error_naming_its_key(train_cfg, tmp_path):
    # before any speech window is cut, and in one line; `pretrained` and null stay accepted
    from speechseq.config import ConfigError, validate_train

    root = write_real_world(tmp_path / "real_world")
    with pytest.raises(ConfigError, match="openworld.filter_checkpoint") as exc:
        validate_train(train_cfg(f"openworld.root={root}", "openworld.filter_checkpoint=/nope/filter.safetensors"))
    assert "\n" not in str(exc.value) and "/nope/filter.safetensors" in str(exc.value)
    for fine in ("pretrained", "null"):
        validate_train(train_cfg(f"openworld.root={root}", f"openworld.filter_checkpoint={fine}"))


def test_synthetic_negatives_join_train_and_validation_apart(train_cfg, tmp_path, monkeypatch):
    import speechseq.data.tts as tts
    from speechseq.training.data import frontend_spec, prepare_data

    calls = []

    def fake(cache_dir, seed, n_clips, engines, progress, exclude=()):
        calls.append((seed, n_clips, engines, tuple(exclude)))
        return np.full((n_clips, SR), seed % 100, np.int16), [{}] * n_clips

    monkeypatch.setattr(tts, "synthetic_negatives", fake)
    root = write_real_world(tmp_path / "real_world")
    cfg = train_cfg(f"openworld.root={root}", "openworld.filter_checkpoint=null", "openworld.tts_clips=50",
                    "openworld.tts_engines=[espeak,flite]")
    data = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    (train_seed, n_train, engines, exclude), (val_seed, n_val, _, _) = calls
    assert n_train == 50 and n_val == 5 and train_seed != val_seed and engines == ["espeak", "flite"]
    assert "yes" in exclude and "go" in exclude
    assert data.report["openworld"]["tts"]["train"]["clips"] == 50
    tts_rows = data.train.waves[-50:]
    assert (tts_rows == train_seed % 100).all() and data.train.negative_idx[-1] == len(data.train.waves) - 1


def test_synthetic_negatives_join_without_a_real_world_folder(train_cfg, tmp_path, monkeypatch):
    """A user's own Speech Commands download (no real_world beside it) still learns other words."""
    import speechseq.data.tts as tts
    from speechseq.training.data import frontend_spec, prepare_data

    monkeypatch.setattr(tts, "synthetic_negatives", lambda cache_dir, seed, n_clips, engines, progress, exclude=():
                        (np.full((n_clips, SR), 7, np.int16), [{}] * n_clips))
    cfg = train_cfg("openworld.root=null", "openworld.tts_clips=40", "openworld.tts_engines=[espeak]")
    data = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    report = data.report["openworld"]
    assert "root" not in report and "train" not in report  # no real speech windows
    assert report["tts"]["train"]["clips"] == 40 and report["tts"]["validation"]["clips"] == 4
    assert (data.train.waves[-40:] == 7).all() and data.train.n_negative > 0
    assert train_cfg("openworld.root=null").openworld.tts_clips == 0  # off unless asked for
    no_tts = prepare_data(train_cfg("openworld.root=null"), frontend_spec(cfg), load_test=False)
    assert "openworld" not in no_tts.report and no_tts.train.n_negative == 0


def test_no_engine_with_auto_trains_on_with_a_warning(train_cfg, tmp_path, monkeypatch, caplog):
    import speechseq.data.tts as tts
    from speechseq.data.tts.engines import EngineMissingError
    from speechseq.training.data import frontend_spec, prepare_data

    def missing(*args, **kwargs):
        raise EngineMissingError("no text-to-speech engine is installed: apt-get install espeak-ng")

    monkeypatch.setattr(tts, "synthetic_negatives", missing)
    cfg = train_cfg(f"openworld.root={write_real_world(tmp_path / 'rw')}", "openworld.filter_checkpoint=null",
                    "openworld.tts_clips=50")
    data = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    assert "espeak-ng" in data.report["openworld"]["tts"]["skipped"]
    cfg = train_cfg(f"openworld.root={tmp_path / 'rw'}", "openworld.filter_checkpoint=null",
                    "openworld.tts_clips=50", "openworld.tts_engines=[espeak]")
    with pytest.raises(EngineMissingError, match="espeak-ng"):
        prepare_data(cfg, frontend_spec(cfg), load_test=False)


def test_a_run_with_open_world_data_trains_tests_and_calibrates_among_talk(train_cfg, tmp_path):
    """End to end: negatives in both splits, the summary's counts, and calibration streams with talk."""
    from speechseq.training.train import train

    root = write_real_world(tmp_path / "real_world")
    cfg = train_cfg(f"openworld.root={root}", "openworld.filter_checkpoint=null", "calibration.enabled=true",
                    "calibration.seconds=60", "calibration.takes=1", "calibration.rooms=false",
                    "calibration.plain_takes=1", epochs=1)
    summary = train(cfg)
    assert summary["status"] == "completed"
    out = tmp_path / "run"
    talk = read_talk(out / "calibration" / "near" / "talk.csv")
    assert talk, "the calibration stream holds talk"
    # beside it a stream of the dataset's own (no talk), on which the stored budget holds as well
    from speechseq.deploy.metadata import read_checkpoint_metadata

    assert not (out / "calibration" / "plain" / "talk.csv").exists()
    stored = read_checkpoint_metadata(out / "checkpoints" / "best.safetensors", ValueError)["streaming"]
    assert stored["also_within"][0]["input"] == "calibration/plain/stream.wav"
    assert stored["validation"]["input"] == "calibration/near/stream.wav"
    report = json.loads((out / "data_report.json").read_text())
    assert report["splits"]["train"]["negative_drawn"] > 0


def test_open_world_report_on_a_synthetic_split(synthetic_root, tmp_path):
    """Every figure of the report is there, from the shipped model, on a folder the test wrote."""
    from speechseq.deploy.pretrained import default_checkpoint
    from speechseq.evaluation.openworld_report import format_openworld, openworld_report

    root = write_real_world(tmp_path / "real_world")
    r = openworld_report(default_checkpoint(), root, synthetic_root, "validation", tmp_path / "ow",
                         stream_seconds=60.0, cache_dir=str(tmp_path / "cache"))
    assert r["other_words"]["n"] > 0 and 0 <= r["other_words"]["as_command_pct"] <= 100
    assert r["sounds"]["n"] > 0
    assert set(r["clips"]) == {"clean", "recorded_noise_10db", "recorded_rooms"}
    assert r["stream"]["command_words"] > 0 and r["stream"]["curve"]
    # seed 0 of the validation split: in-sample exactly when the shipped detector was calibrated on that seed
    from speechseq.deploy.metadata import read_checkpoint_metadata
    from speechseq.evaluation.openworld_report import calibration_seeds

    in_sample = 0 in calibration_seeds(read_checkpoint_metadata(default_checkpoint(), ValueError))
    assert r["stream"].get("in_calibration", False) == in_sample
    assert ("partly in-sample" in format_openworld(r)) == in_sample
    assert "stream:" in format_openworld(r) and (tmp_path / "ow" / "openworld.json").is_file()
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "openworld_report.py"
    report = tmp_path / "ow" / "openworld.json"
    table = subprocess.run([sys.executable, str(script), "--table", f"a={report}", f"b={report}"],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("| sounds"))
    value = f"{r['sounds']['as_command_pct']:.1f}"
    assert row == f"| sounds as a command % | {value} | {value} | {value} | 0.0 |"
    missing = subprocess.run([sys.executable, str(script), "--table", f"a={tmp_path / 'none.json'}"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "none.json" in missing.stderr


def test_open_world_report_scores_takes_of_own_words(synthetic_root, tmp_path):
    from speechseq.deploy.pretrained import default_checkpoint
    from speechseq.evaluation.openworld_report import openworld_report, takes_of

    root = write_real_world(tmp_path / "real_world")
    takes = tmp_path / "takes"
    for word in ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"):
        (takes / word).mkdir(parents=True)
        for src in sorted((synthetic_root / word).glob("*.wav"))[:2]:
            (takes / word / src.name).symlink_to(src)
    r = openworld_report(default_checkpoint(), root, synthetic_root, "validation", tmp_path / "ow",
                         stream_seconds=60.0, cache_dir=str(tmp_path / "cache"), takes=takes)
    assert set(r["takes"]) == set(("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"))
    assert all(row["n"] == 2 for row in r["takes"].values()) and "clips" not in r
    (takes / "go" / sorted((takes / "go").iterdir())[0].name).unlink()
    (takes / "go" / sorted((takes / "go").iterdir())[0].name).unlink()
    with pytest.raises(FileNotFoundError, match="no takes of \\['go'\\]"):
        takes_of(takes, ["yes", "go"])


def test_calibration_seeds_name_the_streams_the_stored_detector_was_chosen_on():
    from dataclasses import asdict

    from speechseq.config.training import CalibrationConfig
    from speechseq.evaluation.openworld_report import calibration_seeds

    def meta(source, calibration):
        return {"streaming": {"validation": {"input": source}}, "config": {"calibration": calibration}}

    assert calibration_seeds(meta("calibration/near/stream.wav + calibration/far/stream.wav",
                                  {"seed": 3, "takes": 2})) == {3, 4}
    assert calibration_seeds(meta("calibration/near/stream.wav", {"seed": 3})) == {3}  # before takes existed
    assert calibration_seeds(meta("validation_loud/stream.wav", {"seed": 0, "takes": 2})) == set()  # calibrated elsewhere
    assert calibration_seeds({}) == set()
    # training's own streams stay clear of the small seeds the reports draw validation streams with
    assert not calibration_seeds(meta("calibration/near/stream.wav", asdict(CalibrationConfig()))) & set(range(10))

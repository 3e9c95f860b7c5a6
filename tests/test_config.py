import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from speechseq.config import ConfigError, validate_train
from tests.conftest import compose_config


def test_defaults_compose_to_a_stacked_bilstm(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    assert cfg.model.cell == "lstm" and cfg.model.bidirectional and cfg.model.num_layers == 2
    assert cfg.data.task == "v2_12"
    validate_train(cfg)


def test_experiment_mini_composes(tmp_path):
    cfg = compose_config("train", ["experiment=mini"], tmp_path)
    assert cfg.model.frame_stack == 2
    # 120 epochs, or what fits in 19 minutes where they do not
    assert cfg.trainer.max_epochs == 120 and cfg.trainer.max_minutes == 19


@pytest.mark.parametrize("extra,frames,masks,dropout,pooling", [
    (["trainer.max_minutes=5"], 3, 0, 0.0, "mean"), (["trainer.max_minutes=10"], 3, 0, 0.0, "mean"),
    (["trainer.max_minutes=30"], 2, 2, 0.1, "attention"), ([], 2, 2, 0.1, "attention"),
    (["trainer.max_minutes=null"], 2, 2, 0.1, "attention"),
    # explicit overrides win
    (["trainer.max_minutes=5", "model.frame_stack=2", "augment.num_time_masks=1", "model.dropout=0.2",
      "model.pooling=attention"], 2, (0, 1), 0.2, "attention")])
def test_experiment_mini_under_a_short_budget_stacks_three_frames_mean_pooled_without_specaugment_or_dropout(
        tmp_path, extra, frames, masks, dropout, pooling):
    from omegaconf import OmegaConf

    cfg = compose_config("train", ["experiment=mini"] + extra, tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)  # as the checkpoint records it
    assert cfg.model.frame_stack == frames and resolved["model"]["frame_stack"] == frames
    assert resolved["model"]["dropout"] == dropout and resolved["model"]["pooling"] == pooling
    freq_masks, time_masks = masks if isinstance(masks, tuple) else (masks, masks)
    assert (resolved["augment"]["num_freq_masks"], resolved["augment"]["num_time_masks"]) == (freq_masks, time_masks)


@pytest.mark.parametrize("override", ["model.hidden_sise=64", "trainer.max_epochs=lots", "foo=1"])
def test_unknown_keys_and_wrong_types_fail_at_composition(tmp_path, override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError, ValidationError)):
        compose_config("train", [override], tmp_path)


@pytest.mark.parametrize("override,key", [
    ("model.hidden_size=-5", "model.hidden_size"), ("model.cell=transformer", "model.cell"),
    ("model.pooling=last", "model.pooling"), ("trainer.batch_size=0", "trainer.batch_size"),
    ("optim.lr=-1", "optim.lr"), ("data.task=v9", "data.task"), ("model.dropout=1.0", "model.dropout"),
    ("optim.ema_decay=1.0", "optim.ema_decay"), ("optim.ema_decay=-0.5", "optim.ema_decay"),
    ("calibration.takes=0", "calibration.takes"),
    ("calibration.draw=voice", "calibration.draw"), ("calibration.plain_takes=-1", "calibration.plain_takes"),
    ("calibration.max_detections_per_hour_of_talk=-1", "calibration.max_detections_per_hour_of_talk"),
])
def test_out_of_range_values_are_rejected_naming_the_key(tmp_path, override, key):
    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ConfigError, match=key):
        validate_train(cfg)


@pytest.mark.parametrize("override,key", [
    ("model.cell=transformer", "model.cell"), ("model.pooling=last", "model.pooling"),
    ("model.num_layers=-1", "model.num_layers"), ("trainer.batch_size=-8", "trainer.batch_size"),
    ("features.n_mels=0", "features.n_mels"),
])
def test_train_rejects_bad_values_before_reading_any_data(tmp_path, monkeypatch, override, key):
    import speechseq.data.layout as layout
    import speechseq.training.data as train_data
    import speechseq.training.train as train_mod

    touched = []
    monkeypatch.setattr(train_data, "scan_dataset", lambda *a, **k: touched.append("scan"))
    monkeypatch.setattr(train_mod, "prepare_data", lambda *a, **k: touched.append("data"))
    monkeypatch.setattr(layout, "scan_dataset", lambda *a, **k: touched.append("scan"))
    cfg = compose_config("train", [override, f"data.root={tmp_path}", "trainer.device=cpu"], tmp_path / "run")
    with pytest.raises(ConfigError, match=key):
        train_mod.train(cfg)
    assert not touched and not (tmp_path / "run").exists()  # no data read, no run folder made


@pytest.mark.parametrize("extra,takes", [(["trainer.max_minutes=5"], 0), ([], 100), (["trainer.max_minutes=null"], 100)])
def test_experiment_mini_speaks_the_commands_synthetically_unless_the_budget_is_short(tmp_path, extra, takes):
    from omegaconf import OmegaConf

    from speechseq.config.checks import validate_data

    cfg = compose_config("train", ["experiment=mini"] + extra, tmp_path)
    assert OmegaConf.to_container(cfg, resolve=True)["data"]["tts_command_takes"] == takes
    validate_data(cfg.data)

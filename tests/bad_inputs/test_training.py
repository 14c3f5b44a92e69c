"""Bad training inputs are refused with an error that names the field, the value and
the allowed range: TrainConfig's fields, a hand-edited resume state, a network to
start from that the configuration does not describe; a diverging run stops with a
FloatingPointError that names the step and a lower learning rate, keeping the last
good checkpoint."""

import json
import math
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file

from facelib.learn import training
from facelib.learn.training import TrainConfig, TrainState, train
from facelib.storage import file_sha256

FAST = dict(width=0.125, batch_size=4, epochs=1, max_steps_per_epoch=3, patience=5)


# ------------------------------------------------------------------ TrainConfig
@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("max_steps_per_epoch", 0, r"None \(every scene once\) or an integer >= 1"),
        ("max_steps_per_epoch", -3, r"None \(every scene once\) or an integer >= 1"),
        ("batch_size", 0, r"positive \(an integer >= 1\)"),
        ("batch_size", 2.5, r"positive \(an integer >= 1\)"),
        ("epochs", 0, r"positive \(an integer >= 1\)"),
        ("patience", -1, r"positive \(an integer >= 1\)"),
        ("n_views", 0, r"positive \(an integer >= 1\)"),
        ("lr", 0.0, "a finite number > 0"),
        ("lr", -1e-4, "a finite number > 0"),
        ("lr", math.nan, "a finite number > 0"),
        ("lr", math.inf, "a finite number > 0"),
        ("lr", "1e-4", "a finite number > 0"),
        ("width", 0.0, r"a number in \(0, 1\]"),
        ("width", 1.5, r"a number in \(0, 1\]"),
        ("merge", "sum", r"one of \['add', 'concat'\]"),
        ("seed", -1, "an integer >= 0"),
        ("checkpoint_every", -1, "an integer >= 0"),
        ("mirror", "yes", "True or False"),
        ("device", "gpu", "a torch device"),
        ("encoder_weights", 3, "None or a path"),
    ],
)
def test_a_field_out_of_its_range_is_refused(field, value, allowed):
    got = re.escape(repr(value))
    with pytest.raises(
        ValueError, match=rf"TrainConfig\.{field} must be {allowed}.*, got {got}"
    ):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(network="cnn"),
            r"network must be one of \('sv', 'mv', 'mv_shape', 'mv_any'\)",
        ),
        (dict(precision="fp16"), "precision must be one of"),
        (dict(ema_decay=1.0), r"ema_decay must be in \[0, 1\)"),
        (dict(ema_decay=math.nan), r"ema_decay must be in \[0, 1\)"),
        (dict(pose_warmup_epochs=-1), "pose_warmup_epochs must be >= 0"),
    ],
)
def test_a_named_choice_or_range_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_valid_configurations_are_accepted():
    TrainConfig(max_steps_per_epoch=None, lr=1, width=1, ema_decay=0.999)
    TrainConfig(network="mv", merge="add", device="cuda:1", encoder_weights="w.st")


# ------------------------------------------------------------------ resume state
@pytest.fixture(scope="module")
def stopped(data, tmp_path_factory):
    """A run of 3 steps stopped after its second."""
    config = TrainConfig(network="sv", checkpoint_every=1, **FAST)
    run = tmp_path_factory.mktemp("runs") / "sv"

    def stop(step):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data, run, progress=False, callback=stop)
    return config, run


@pytest.fixture()
def interrupted(stopped, tmp_path):
    """A copy of the stopped run to edit."""
    config, run = stopped
    return config, shutil.copytree(run, tmp_path / "sv")


def edit_state(run, **changes):
    meta = json.loads((run / "last.json").read_text())
    meta["state"].update(changes)
    (run / "last.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("step", [0, 1, 3])
def test_a_hand_edited_step_counter_is_refused(data, interrupted, step):
    config, run = interrupted
    edit_state(run, step=step)
    with pytest.raises(
        ValueError,
        match=rf"says {step} steps were taken.*optimiser state in last.safetensors "
        r"has taken 2: the state was edited.*delete the run folder's last\.\*",
    ):
        train(config, data, run, progress=False)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(epoch=5), "says epoch 5, step 2, beyond this run's 1 epochs of 3 steps"),
        (dict(step="2"), "the training state's step must be an integer >= 0"),
        (dict(images=-4), "the training state's images must be an integer >= 0"),
        (dict(best_loss="low"), "the training state's best_loss must be number"),
        (dict(steps=2), r"got unknown \['steps'\]"),
    ],
)
def test_a_malformed_resume_state_is_refused(data, interrupted, changes, message):
    config, run = interrupted
    edit_state(run, **changes)
    with pytest.raises(ValueError, match=rf"{message}.*delete the run folder's last"):
        train(config, data, run, progress=False)


def test_train_state_from_json_refuses_missing_entries():
    state = TrainState().as_json()
    del state["epoch"]
    with pytest.raises(ValueError, match=r"missing \['epoch'\]"):
        TrainState.from_json(state)


# ------------------------------------------------------------------ diverging runs
def test_a_diverging_run_names_the_step_and_a_lower_learning_rate(data, tmp_path):
    config = TrainConfig(network="sv", lr=1e6, checkpoint_every=1, **FAST)
    run = tmp_path / "sv"
    with pytest.raises(
        FloatingPointError,
        match=r"the loss diverged at epoch 0, step 1 \(the network's predictions of "
        r".*are not finite\) with learning rate lr=1e\+06: lower it, e.g. to "
        r"lr=100000",
    ):
        train(config, data, run, progress=False)
    # the checkpoint of step 1 stays, whole and finite, and no model was written
    meta = json.loads((run / "last.json").read_text())
    assert meta["state"]["step"] == 1 and not (run / "model.json").exists()
    assert file_sha256(run / "last.safetensors") == meta["sha256"]["last.safetensors"]
    weights = load_file(str(run / "last.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_weights_that_become_nan_are_never_checkpointed(data, tmp_path, monkeypatch):
    """A step whose loss was finite but whose update made the weights NaN: the
    checkpoint of the step before stays."""
    real = training.training_step
    calls = []

    def step_then_nan(model, opt, *args, **kwargs):
        loss = real(model, opt, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            with torch.no_grad():
                next(model.parameters()).fill_(math.nan)
        return loss

    monkeypatch.setattr(training, "training_step", step_then_nan)
    config = TrainConfig(network="sv", checkpoint_every=1, **FAST)
    run = tmp_path / "sv"
    with pytest.raises(
        FloatingPointError,
        match=r"diverged at epoch 0, step 2 \(the weights \['encoder.0.weight'\] are "
        r"not finite; the last good checkpoint is kept\).*lr=1e-05",
    ):
        train(config, data, run, progress=False)
    meta = json.loads((run / "last.json").read_text())
    assert meta["state"]["step"] == 1  # the last good checkpoint
    assert file_sha256(run / "last.safetensors") == meta["sha256"]["last.safetensors"]
    weights = load_file(str(run / "last.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values())


# ------------------------------------------------------------------ init
def test_an_init_of_another_width_is_refused(data, tmp_path):
    sv = tmp_path / "sv"
    train(
        TrainConfig(network="sv", **{**FAST, "max_steps_per_epoch": 1}),
        data,
        sv,
        progress=False,
    )
    with pytest.raises(
        ValueError,
        match=r"holds a network with width=0.125, but the configuration says "
        r"width=0.25: set them to the init's values",
    ):
        train(
            TrainConfig(network="mv", n_views=2, **{**FAST, "width": 0.25}),
            data,
            tmp_path / "mv",
            init=sv,
            progress=False,
        )
    assert not (tmp_path / "mv").exists()

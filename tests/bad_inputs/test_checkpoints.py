"""Damaged or edited checkpoints are refused with an error that names the problem and
the fix: resume files that do not match their checksums (last.safetensors,
best.safetensors), resume state without checksums or not JSON, a model.json whose
training configuration, architecture and weights disagree."""

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
import torch

from facelib.learn import training
from facelib.learn.checkpoints import build_network, load_model, save_model
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.training import TrainConfig, train

CONFIG = TrainConfig(
    network="sv",
    width=0.125,
    batch_size=4,
    epochs=2,
    max_steps_per_epoch=2,
    patience=5,
    checkpoint_every=1,
)
RESTART = r"delete the run folder's last\.\* and best\.\* to restart it, or pass "
DAMAGED = r"model\.json was edited or damaged: restore it, or retrain"


@pytest.fixture(scope="module")
def interrupted(data, tmp_path_factory):
    """A run stopped at step 3 of 4: one epoch done (best.safetensors written), one
    checkpoint into the second."""
    run = tmp_path_factory.mktemp("runs") / "sv"

    def stop(step):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(CONFIG, data, run, progress=False, callback=stop)
    return run


@pytest.fixture()
def run(interrupted, tmp_path):
    """A copy of the interrupted run to damage."""
    return shutil.copytree(interrupted, tmp_path / "sv")


@pytest.fixture()
def no_better_epoch(monkeypatch):
    """Validation never improves on the best so far: best.safetensors stays as it is
    on disk until the end."""
    real = training._validate
    monkeypatch.setattr(
        training,
        "_validate",
        lambda *args: dataclasses.replace(real(*args), loss=math.inf),
    )


def flip_a_bit(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def edit_json(path, edit):
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


# ------------------------------------------------------------------ resume files
def test_the_interrupted_run_records_checksums(run):
    sums = json.loads((run / "last.json").read_text())["sha256"]
    assert set(sums) == {"last.safetensors", "best.safetensors"}
    assert all(isinstance(v, str) and len(v) == 64 for v in sums.values())


def test_a_flipped_bit_in_the_resume_file_is_refused(data, run):
    flip_a_bit(run / "last.safetensors")
    with pytest.raises(
        ValueError,
        match=rf"last\.safetensors does not match its checksum.*{RESTART}overwrite",
    ):
        train(CONFIG, data, run, progress=False)
    assert not (run / "model.json").exists()


def test_a_flipped_bit_in_the_best_weights_never_reaches_model_json(
    data, run, no_better_epoch
):
    flip_a_bit(run / "best.safetensors")
    with pytest.raises(
        ValueError, match=rf"best\.safetensors does not match its checksum.*{RESTART}"
    ):
        train(CONFIG, data, run, progress=False)  # resumes, finishes, then refuses
    assert (
        not (run / "model.json").exists() and not (run / "model.safetensors").exists()
    )


def test_resume_state_without_checksums_is_refused(data, run):
    edit_json(run / "last.json", lambda meta: meta.pop("sha256"))
    with pytest.raises(ValueError, match=rf"records no checksum.*{RESTART}"):
        train(CONFIG, data, run, progress=False)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_resume_state_that_is_not_a_json_object_is_refused(data, run, text):
    (run / "last.json").write_text(text)
    with pytest.raises(ValueError, match=rf"(not valid JSON|JSON object).*{RESTART}"):
        train(CONFIG, data, run, progress=False)


def test_a_missing_resume_file_is_refused(data, run):
    (run / "last.safetensors").unlink()
    with pytest.raises(
        FileNotFoundError, match=rf"last.safetensors is missing.*{RESTART}"
    ):
        train(CONFIG, data, run, progress=False)


def test_a_missing_best_file_is_refused_at_the_end(data, run, no_better_epoch):
    (run / "best.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=rf"no best weights.*{RESTART}"):
        train(CONFIG, data, run, progress=False)
    assert not (run / "model.json").exists()


# ------------------------------------------------------------------ model.json
def small(network: str = "sv") -> torch.nn.Module:
    torch.manual_seed(0)
    sv = SingleView(4, 32, width=0.125)
    return sv if network == "sv" else MultiView.from_single_view(sv, 2, "concat")


def saved(tmp_path, network: str = "sv"):
    """A saved model whose model.json records the training configuration."""
    net = small(network)
    config = TrainConfig(network=network, width=0.125, n_views=2)
    save_model(tmp_path, net, {"config": config.as_json()})
    return tmp_path / "model.json"


@pytest.mark.parametrize(
    "network, name, value",
    [
        ("sv", "width", 0.25),
        ("sv", "network", "mv"),
        ("mv", "n_views", 3),
        ("mv", "merge", "add"),
    ],
)
def test_a_config_that_disagrees_with_the_architecture_is_refused(
    tmp_path, network, name, value
):
    meta_path = saved(tmp_path, network)
    load_model(meta_path)  # as saved: fine
    edit_json(meta_path, lambda meta: meta["config"].update({name: value}))
    with pytest.raises(
        ValueError,
        match=rf"configuration disagrees with the architecture.*{name}: {value!r}.*"
        rf"{DAMAGED}",
    ):
        load_model(meta_path)


def test_an_architecture_that_does_not_fit_the_weights_is_refused(tmp_path):
    meta_path = saved(tmp_path)

    def wider(meta):
        meta["architecture"]["width"] = meta["config"]["width"] = 0.25

    edit_json(meta_path, wider)
    with pytest.raises(
        ValueError, match=rf"does not fit the architecture in model\.json.*{DAMAGED}"
    ):
        load_model(meta_path)


def test_an_architecture_edited_away_from_its_buffers_is_refused(tmp_path):
    meta_path = saved(tmp_path)
    edit_json(meta_path, lambda meta: meta["architecture"].update(image_t_mean=[0] * 3))
    with pytest.raises(
        ValueError,
        match=rf"disagrees with its weights in \['image_t_mean'\].*{DAMAGED}",
    ):
        load_model(meta_path)


@pytest.mark.parametrize(
    "network, name, value, allowed",
    [
        ("sv", "n_modes", "4", "an integer >= 1"),
        ("sv", "image_size", 16, "an integer >= 32"),
        ("sv", "width", 0, r"a number in \(0, 1\]"),
        ("sv", "width", 1.5, r"a number in \(0, 1\]"),
        ("sv", "pool", "no", "true or false"),
        ("sv", "image_t_std", [1.0, 0.0, 1.0], "3 finite numbers > 0"),
        ("sv", "K_default", [[1.0, 0.0], [0.0, 1.0]], "a 3 x 3 list"),
        ("mv", "n_views", 0, "an integer >= 1"),
        ("mv", "merge", "sum", r"one of \['add', 'concat'\]"),
    ],
)
def test_a_malformed_architecture_is_refused(tmp_path, network, name, value, allowed):
    meta_path = saved(tmp_path, network)
    edit_json(meta_path, lambda meta: meta["architecture"].update({name: value}))
    with pytest.raises(
        ValueError, match=rf"architecture's {name} must be {allowed}.*{DAMAGED}"
    ):
        load_model(meta_path)


def test_an_architecture_with_an_entry_missing_is_refused(tmp_path):
    meta_path = saved(tmp_path)
    edit_json(meta_path, lambda meta: meta["architecture"].pop("pool"))
    with pytest.raises(ValueError, match=rf"architecture has no \['pool'\].*{DAMAGED}"):
        load_model(meta_path)
    arch = json.loads(meta_path.read_text())["architecture"]
    with pytest.raises(ValueError, match=r"architecture has no \['pool'\]"):
        build_network(arch)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is not valid JSON"),
        ("[]", "must hold a JSON object, got list"),
    ],
)
def test_a_model_json_that_is_not_a_json_object_is_refused(tmp_path, text, message):
    meta_path = saved(tmp_path)
    meta_path.write_text(text)
    with pytest.raises(ValueError, match=rf"{message}.*{DAMAGED}"):
        load_model(meta_path)


def test_a_model_json_without_the_weights_checksum_is_refused(tmp_path):
    meta_path = saved(tmp_path)
    edit_json(meta_path, lambda meta: meta.pop("weights_sha256"))
    with pytest.raises(ValueError, match=rf"no 'weights_sha256'.*{DAMAGED}"):
        load_model(meta_path)


def test_an_undamaged_model_loads_the_weights_it_saved(tmp_path):
    meta_path = saved(tmp_path, "mv")
    model, meta = load_model(meta_path)
    want = small("mv").state_dict()
    got = model.state_dict()
    assert all(np.array_equal(got[k].numpy(), want[k].numpy()) for k in want)
    assert meta["config"]["n_views"] == model.n_views == 2

"""facelib.learn.training: resuming gives the same weights, seeds reproduce, checkpoints
are guarded."""

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from facelib.learn.checkpoints import load_model
from facelib.learn.training import TrainConfig, TrainState, train

FAST = dict(width=0.125, batch_size=4, epochs=2, max_steps_per_epoch=3, patience=5)


def weights(run):
    return load_file(str(run / "model.safetensors"))


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_interrupted_run_resumes_to_the_same_weights(data, tmp_path, ema_decay):
    config = TrainConfig(network="sv", checkpoint_every=1, ema_decay=ema_decay, **FAST)
    train(config, data, tmp_path / "whole", progress=False)

    def stop(step):
        if step == 4:
            raise KeyboardInterrupt("killed at step 4")

    with pytest.raises(KeyboardInterrupt):
        train(config, data, tmp_path / "broken", progress=False, callback=stop)
    assert (tmp_path / "broken" / "last.json").exists() and not (
        tmp_path / "broken" / "model.json"
    ).exists()
    resumed = train(config, data, tmp_path / "broken", progress=False)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "broken")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(resumed.history) == 2
    assert not (tmp_path / "broken" / "last.json").exists()  # cleaned up when finished


@pytest.mark.parametrize("cut", ["before last.json", "before the rename"])
def test_a_kill_inside_a_checkpoint_save_still_resumes_exactly(
    data, tmp_path, monkeypatch, cut
):
    """A kill between the three steps of a save (new weights, last.json, rename):
    before last.json the new weights were never committed and the previous pair
    resumes; after it they are the latest and take their place. Either way the
    finished weights are the uninterrupted run's, bit for bit."""
    import facelib.learn.training as training

    config = TrainConfig(network="sv", checkpoint_every=1, ema_decay=0.9, **FAST)
    train(config, data, tmp_path / "whole", progress=False)
    saves = []
    real = training.write_json if cut == "before last.json" else training.os.replace

    def killed_on_the_second_save(*args, **kwargs):
        if str(args[0]).endswith(("last.json", "last.next.safetensors")):
            saves.append(args[0])
            if len(saves) == 2:
                raise KeyboardInterrupt(f"killed {cut}")
        return real(*args, **kwargs)

    name = "write_json" if cut == "before last.json" else "os.replace"
    target = training if name == "write_json" else training.os
    monkeypatch.setattr(target, name.split(".")[-1], killed_on_the_second_save)
    with pytest.raises(KeyboardInterrupt):
        train(config, data, tmp_path / "broken", progress=False)
    monkeypatch.undo()
    assert (tmp_path / "broken" / "last.next.safetensors").exists()
    train(config, data, tmp_path / "broken", progress=False)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "broken")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "broken" / "last.next.safetensors").exists()


def test_averaged_weights_follow_the_moving_average(data, tmp_path):
    """With ema_decay d, after every step the kept weights are d * (their last value) +
    (1 - d) * (the trained weights), read back from the step's checkpoint; the finished
    model is the average, not the trained weights."""
    d = 0.75
    run = tmp_path / "ema"
    steps = []
    config = TrainConfig(
        network="sv", checkpoint_every=1, ema_decay=d, **{**FAST, "epochs": 1}
    )
    train(
        config,
        data,
        run,
        progress=False,
        callback=lambda step: steps.append(load_file(str(run / "last.safetensors"))),
    )
    assert len(steps) == 3
    names = [k[len("model.") :] for k in steps[0] if k.startswith("model.")]
    assert names and all(f"ema.{k}" in steps[0] for k in names)
    for before, after in zip(steps, steps[1:]):
        for k in names:
            expected = (
                d * before[f"ema.{k}"].double() + (1 - d) * after[f"model.{k}"].double()
            )
            assert torch.allclose(after[f"ema.{k}"].double(), expected, atol=1e-6), k
    final = weights(run)
    assert all(torch.equal(final[k], steps[-1][f"ema.{k}"]) for k in names)
    assert not all(torch.equal(final[k], steps[-1][f"model.{k}"]) for k in names)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="ema_decay"):
            TrainConfig(ema_decay=bad)


def test_same_seed_same_weights_other_seed_other_weights(data, tmp_path):
    train(TrainConfig(network="sv", **FAST), data, tmp_path / "a", progress=False)
    train(TrainConfig(network="sv", **FAST), data, tmp_path / "b", progress=False)
    train(
        TrainConfig(network="sv", seed=1, **FAST), data, tmp_path / "c", progress=False
    )
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_pose_warmup_holds_alpha_at_the_mean(data, tmp_path):
    held = train(
        TrainConfig(network="sv", pose_warmup_epochs=2, **FAST),
        data,
        tmp_path / "held",
        progress=False,
    )
    images = data.tensor("images", data.subjects("val"), dtype=None)[:, 0]
    with torch.no_grad():
        assert (
            torch.count_nonzero(held.model(images).alpha) == 0
        )  # α's output layer never left its zero start
    free = train(
        TrainConfig(network="sv", **FAST), data, tmp_path / "free", progress=False
    )
    with torch.no_grad():
        assert torch.count_nonzero(free.model(images).alpha) > 0
    with pytest.raises(ValueError, match="pose_warmup_epochs"):
        TrainConfig(network="mv", pose_warmup_epochs=1)


def test_training_lowers_the_loss(data, tmp_path):
    config = TrainConfig(
        network="sv", width=0.125, batch_size=8, epochs=4, patience=10, lr=1e-3
    )
    result = train(config, data, tmp_path / "fit", progress=False)
    first, last = (
        result.history[0]["train_loss"],
        min(h["train_loss"] for h in result.history),
    )
    assert last < first


def test_multi_view_chain_and_checkpoint_guards(data, tmp_path):
    sv = tmp_path / "sv"
    train(TrainConfig(network="sv", **FAST), data, sv, progress=False)
    with pytest.raises(FileExistsError, match="finished model"):
        train(TrainConfig(network="sv", **FAST), data, sv, progress=False)
    before = weights(sv)
    reused = train(
        TrainConfig(network="sv", **FAST), data, sv, progress=False, reuse_finished=True
    )  # loaded, not retrained
    assert all(torch.equal(before[k], weights(sv)[k]) for k in before)
    assert len(reused.history) == 2 and reused.metrics.shape_mm > 0
    with pytest.raises(ValueError, match="another configuration"):
        train(
            TrainConfig(network="sv", seed=5, **FAST),
            data,
            sv,
            progress=False,
            reuse_finished=True,
        )
    with pytest.raises(ValueError, match="init="):
        train(TrainConfig(network="mv", **FAST), data, tmp_path / "mv", progress=False)
    mv = train(
        TrainConfig(network="mv", merge="concat", n_views=2, **FAST),
        data,
        tmp_path / "mv",
        init=sv,
        progress=False,
    )
    assert mv.model.n_views == 2
    with pytest.raises(ValueError, match="starts from a 'mv' one"):
        train(
            TrainConfig(network="mv_shape", n_views=2, **FAST),
            data,
            tmp_path / "bad",
            init=sv,
            progress=False,
        )
    shape = train(
        TrainConfig(network="mv_shape", n_views=2, **FAST),
        data,
        tmp_path / "shape",
        init=tmp_path / "mv",
        progress=False,
    )
    assert np.isnan(shape.metrics.rotation_deg) and shape.metrics.shape_mm > 0
    meta = json.loads((tmp_path / "shape" / "model.json").read_text())
    assert meta[
        "morphable_model_sha256"
    ] == data.morphable_model.fingerprint() and meta["init"].endswith("mv")
    assert meta["architecture"]["network"] == "mv_shape"
    assert meta["architecture"]["n_views"] == 2 and meta["config"]["n_views"] == 2
    model, _ = load_model(
        tmp_path / "shape", morphable_model=data.morphable_model, image_size=32
    )
    assert model.shape_only


def test_configurations_are_checked():
    with pytest.raises(ValueError, match="network must be one of"):
        TrainConfig(network="cnn")
    with pytest.raises(ValueError, match="merge='concat'"):
        TrainConfig(network="mv_shape", merge="add")
    with pytest.raises(ValueError, match="n_views must be positive"):
        TrainConfig(network="mv", n_views=0)
    config = TrainConfig(network="mv", n_views=4, encoder_weights=None)
    assert config.as_json()["n_views"] == 4 and "kind" not in config.as_json()
    with pytest.raises(ValueError, match="the loss must be one of"):
        TrainConfig(loss="l2")
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        TrainConfig(loss="multi_term", gamma=-1.0)
    with pytest.raises(ValueError, match="MV Shape-Concat has no cameras"):
        TrainConfig(network="mv_shape", loss="virtual_views")
    with pytest.raises(ValueError, match="val_subjects must be an integer >= 0"):
        TrainConfig(val_subjects=-1)
    assert TrainConfig(loss="multi_term", beta=2.0).objective.label == "β=2, γ=1"


@pytest.mark.parametrize("loss", ["multi_term", "virtual_views"])
def test_the_ablation_losses_train_reproducibly_and_validate_on_their_loss(
    data, tmp_path, loss
):
    """The same seed gives the same weights (the virtual cameras come from the
    step's generator); the validation loss is the run's own loss, on the first
    val_subjects subjects."""
    config = TrainConfig(
        network="sv", loss=loss, beta=10.0, gamma=1e-3, val_subjects=1, **FAST
    )
    a = train(config, data, tmp_path / "a", progress=False)
    train(config, data, tmp_path / "b", progress=False)
    wa, wb = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    from facelib.learn.validation import validate

    subjects = data.subjects("val")[:1]
    eq2 = validate(a.model, data, subjects, network="sv")
    own = validate(a.model, data, subjects, network="sv", objective=config.objective)
    assert own == a.metrics and own.shape_mm == eq2.shape_mm
    if loss == "virtual_views":  # Eq. 2 plus a positive term
        assert own.loss > eq2.loss
    else:  # another unit altogether
        assert own.loss != eq2.loss


def test_train_state_round_trips_through_json():
    state = TrainState()
    assert (state.epoch, state.step, state.history, state.bad_epochs) == (0, 0, [], 0)
    assert math.isinf(state.best_loss) and math.isnan(state.train_loss)
    state.history.append({"epoch": 1, "loss": 2.5})
    state.epoch, state.best_loss, state.images = 1, 2.5, 64
    back = TrainState.from_json(json.loads(json.dumps(state.as_json())))
    assert back.as_json() == {**state.as_json(), "train_loss": back.train_loss}
    assert math.isnan(back.train_loss)
    assert TrainState.from_json(TrainState().as_json()).history == []


def test_an_unfinished_run_of_an_older_facelib_is_not_resumed(data, tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "last.json").write_text(json.dumps({"config": {}, "progress": {}}))
    with pytest.raises(ValueError, match="older facelib.*overwrite=True"):
        train(TrainConfig(network="sv", **FAST), data, run, progress=False)


def test_bf16_training_on_the_cpu(data, tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")
    # bf16 autocast on the CPU trains (the loss stays float32) and is reproducible
    runs = [
        train(
            TrainConfig(network="sv", precision="bf16", **FAST),
            data,
            tmp_path / f"bf16_{i}",
            progress=False,
        )
        for i in range(2)
    ]
    assert all(np.isfinite(h["loss"]) for h in runs[0].history)
    a, b = weights(tmp_path / "bf16_0"), weights(tmp_path / "bf16_1")
    assert all(torch.equal(a[k], b[k]) for k in a)
    train(
        TrainConfig(network="sv", precision="fp32", **FAST),
        data,
        tmp_path / "fp32",
        progress=False,
    )
    c = weights(tmp_path / "fp32")
    assert not all(
        torch.equal(a[k], c[k]) for k in a
    )  # autocast was on: bf16 rounding changed the weights
    assert (
        json.loads((tmp_path / "bf16_0" / "model.json").read_text())["config"][
            "precision"
        ]
        == "bf16"
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_three_networks_train_on_cuda_and_match_the_cpu(data, tmp_path):
    """bf16 autocast and channels_last on CUDA; the trained weights give the CPU's
    predictions on CPU."""
    sv = train(
        TrainConfig(network="sv", device="cuda", **FAST),
        data,
        tmp_path / "sv",
        progress=False,
    )
    assert next(sv.model.parameters()).is_cuda and all(
        np.isfinite(h["loss"]) for h in sv.history
    )
    train(
        TrainConfig(network="mv", merge="concat", n_views=2, device="cuda", **FAST),
        data,
        tmp_path / "mv",
        init=tmp_path / "sv",
        progress=False,
    )
    shape = train(
        TrainConfig(network="mv_shape", n_views=2, device="cuda", **FAST),
        data,
        tmp_path / "shape",
        init=tmp_path / "mv",
        progress=False,
    )
    assert np.isfinite(shape.metrics.shape_mm)
    images = data.tensor("images", data.subjects("val"), dtype=None)[:, 0]
    gpu, _ = load_model(tmp_path / "sv", device="cuda")
    cpu, _ = load_model(tmp_path / "sv")
    with torch.no_grad():
        a_gpu, a_cpu = gpu(images.cuda()).alpha.cpu(), cpu(images).alpha
    assert torch.allclose(a_gpu, a_cpu, rtol=1e-2, atol=1e-3), (
        (a_gpu - a_cpu).abs().max()
    )


def test_mv_any_trains_on_any_number_of_views_in_any_order(data, tmp_path):
    """MV Any starts from a single-view run, each training batch draws its own N in
    1..V with the photographs in random order (seen by the network's forward), it
    validates on n_views, and its checkpoint loads as an MV Any that reconstructs from
    any number of photographs."""
    from facelib.learn.inference import Reconstructor
    from facelib.learn.nets import AnyView

    sv = tmp_path / "sv"
    train(TrainConfig(network="sv", **FAST), data, sv, progress=False)
    seen = []  # (scenes, views, training?) of every forward
    original = AnyView.forward

    def spy(self, images, K=None):
        seen.append((*images.shape[:2], torch.is_grad_enabled()))
        return original(self, images, K)

    AnyView.forward = spy
    try:
        config = TrainConfig(
            network="mv_any", n_views=2, **{**FAST, "batch_size": 2, "epochs": 3}
        )
        result = train(config, data, tmp_path / "any", init=sv, progress=False)
    finally:
        AnyView.forward = original
    V = data.photos_per_subject
    training_ns = [n for _, n, grad in seen if grad]
    assert set(training_ns) == set(range(1, V + 1)), seen
    assert {n for _, n, grad in seen if not grad} == {2}  # validated on n_views
    assert math.isfinite(result.metrics.loss) and result.metrics.shape_mm > 0
    model, meta = load_model(
        tmp_path / "any", morphable_model=data.morphable_model, image_size=32
    )
    assert isinstance(model, AnyView) and meta["architecture"]["network"] == "mv_any"
    images = np.asarray(data.images[data.subjects("val")[0]])  # (V, 3, S, S)
    recon = Reconstructor(model, data.morphable_model)
    for n in (1, V):
        got = recon(images[:n].transpose(0, 2, 3, 1), K=data.array("K")[0, :n])
        assert got.q.shape == (n, 4) and got.vertices.shape[1] == 3


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_the_returned_metrics_are_a_fresh_validation_of_the_returned_weights(
    data, tmp_path, ema_decay
):
    """The finished run reports its best epoch's metrics without validating again:
    they must be what validating the returned network gives."""
    from facelib.learn.validation import validate

    config = TrainConfig(network="sv", ema_decay=ema_decay, **FAST)
    result = train(config, data, tmp_path / "run", progress=False)
    fresh = validate(result.model, data, data.subjects("val"), network="sv")
    assert fresh == result.metrics
    saved = json.loads((tmp_path / "run" / "model.json").read_text())["metrics"]
    assert saved == {k: getattr(fresh, k) for k in saved}

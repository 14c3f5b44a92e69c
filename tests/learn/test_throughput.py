"""facelib.learn.throughput: synthetic batches and the throughput measurement (the
images a step sees are counted in tests/test_benchmarks.py)."""

import math

import numpy as np
import pytest
import torch

from facelib.geometry.camera import project
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn.throughput import MODELS, synthetic_batch, training_throughput


def small_model() -> MorphableModel:
    """A 3DMM of 12 points about a head's size (mm) with 3 modes."""
    rng = np.random.default_rng(1)
    return MorphableModel(
        mean=rng.normal(0, 40, (12, 3)),
        components=np.linalg.qr(rng.normal(size=(36, 3)))[0].T.reshape(3, 12, 3),
        std=np.array([3.0, 2.0, 1.0]),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.arange(5),
        mirror=np.arange(12),
    )


def test_synthetic_batches_look_at_the_head():
    mm = small_model()
    g = torch.Generator().manual_seed(0)
    batch = synthetic_batch(mm, 64, 3, 32, g)
    assert (
        batch.images.shape == (64, 3, 3, 32, 32) and batch.images.dtype == torch.uint8
    )
    assert batch.K.shape == (64, 3, 3, 3) and batch.shapes.shape == (64, 12, 3)
    np.testing.assert_allclose(batch.q.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    assert ((batch.t[..., 2] >= 420) & (batch.t[..., 2] <= 720)).all()
    # the model origin projects to the image centre, the head stays in the picture
    uv = project(batch.shapes[:, None], batch.K, batch.q, batch.t)
    assert (uv > -16).all() and (uv < 47).all()
    again = synthetic_batch(mm, 64, 3, 32, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batch, again))


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_every_model_is_measured(name):
    r = training_throughput(
        name,
        small_model(),
        image_size=32,
        width=0.125,
        n_views=3,
        batch_size=2,
        device="cpu",
        steps=2,
        warmup=1,
    )
    assert r.model == name and r.n_views == (1 if name == "SV" else 3)
    assert not r.bf16 and math.isnan(r.peak_memory_gib) and r.device == "cpu"
    assert r.images_per_second > 0 and r.step_ms > 0 and r.parameters > 0


def test_throughput_with_bf16_on_cpu():
    r = training_throughput(
        "SV",
        small_model(),
        image_size=32,
        width=0.125,
        batch_size=2,
        device="cpu",
        steps=1,
        warmup=0,
        precision="bf16",
    )
    assert r.bf16 and r.images_per_second > 0


def test_refusals_are_explained():
    mm = small_model()
    with pytest.raises(ValueError, match="unknown model 'MV Max'"):
        training_throughput("MV Max", mm, device="cpu")
    with pytest.raises(ValueError, match="steps >= 1"):
        training_throughput("SV", mm, device="cpu", steps=0)
    with pytest.raises(ValueError, match="warmup >= 1: the first step compiles"):
        training_throughput("SV", mm, device="cpu", warmup=0, compiled=True)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            training_throughput("SV", mm, device="cuda")


def hand_counted_step_flops(name: str, image_size: int, width: float) -> float:
    """FLOPs of one training step of batch 1 counted by hand from the layers' shapes:
    a convolution's or linear layer's forward is 2 x (multiply-adds) = 2 Cin Cout k²
    Hout Wout (2 in out); its backward is twice that (gradients of the input and of the
    weights), except for the first convolution, whose input (the photograph) needs no
    gradient. The 3DMM's linear map and the loss are left out (well under 1 %)."""
    from facelib.learn.throughput import _network

    model = _network(
        *{m[0]: m[1:] for m in MODELS}[name],
        small_model().n_modes,
        image_size,
        width,
        1,
    )
    forward = []

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs = module.in_channels * module.out_channels * k * output[0, 0].numel()
            forward.append(2 * macs // module.groups)
        elif isinstance(module, torch.nn.Linear):
            forward.append(2 * module.in_features * module.out_features)

    for m in model.modules():
        m.register_forward_hook(count)
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size, dtype=torch.uint8))
    return 3 * sum(forward) - forward[0]


def test_flops_per_image_match_a_hand_count():
    r = training_throughput(
        "SV",
        small_model(),
        image_size=64,
        width=0.25,
        batch_size=2,
        device="cpu",
        steps=1,
        warmup=0,
    )
    expected = hand_counted_step_flops("SV", 64, 0.25)
    assert r.flops_per_image == pytest.approx(expected, rel=0.01)
    assert r.achieved_tflops() == pytest.approx(
        r.images_per_second * expected / 1e12, rel=0.01
    )
    assert r.mfu(r.achieved_tflops() * 4) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="peak_tflops must be > 0"):
        r.mfu(0.0)

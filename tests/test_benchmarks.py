"""benchmarks.training_throughput: the throughput harness runs the real training step on
every model."""

import math

import numpy as np
import pytest
import torch

from benchmarks.training_throughput import (
    MODELS,
    random_morphable_model,
    training_throughput,
)


def test_random_morphable_model_has_orthonormal_modes():
    model = random_morphable_model(7, seed=3)
    flat = model.components.reshape(7, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(7), atol=1e-10)
    assert np.all(np.diff(model.std) < 0)


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_throughput_of_every_model_on_cpu(name):
    model3dmm = random_morphable_model(5)
    r = training_throughput(
        name,
        image_size=32,
        width=0.125,
        views=3,
        batch_size=2,
        device="cpu",
        steps=2,
        warmup=1,
        model3dmm=model3dmm,
    )
    views = 1 if name == "SV" else 3
    assert r.views == views and not r.bf16 and math.isnan(r.peak_memory_gib)
    assert r.images_per_second == pytest.approx(2 * views / (r.step_ms / 1e3))
    assert r.images_per_second > 0 and r.parameters > 0


def test_throughput_with_bf16_on_cpu():
    r = training_throughput(
        "SV",
        image_size=32,
        width=0.125,
        batch_size=2,
        device="cpu",
        steps=1,
        warmup=0,
        precision="bf16",
        model3dmm=random_morphable_model(5),
    )
    assert r.bf16 and r.images_per_second > 0


def test_throughput_refuses_unknown_models_and_missing_cuda():
    with pytest.raises(ValueError, match="unknown model"):
        training_throughput("MV Max", device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            training_throughput("SV", device="cuda")

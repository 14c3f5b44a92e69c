"""The GPU profiles on a machine without a GPU: the `gpu` and `paper` parameter files
build every configuration the notebooks build from them (the data set's and the four
networks'), and each network takes one real training step at the profiles' image size
and width (the full VGG-16 at 224 px) on the CPU. The batch is cut to one scene, the
device to the CPU: nothing else differs from the run on a GPU."""

import math

import pytest
import torch

from benchmarks.profile_run import configurations
from benchmarks.training_throughput import random_morphable_model
from facelib import book
from facelib.learn.throughput import MODELS, training_throughput

ROOT = book.repo_root()
GPU_PROFILES = ("gpu", "paper")


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_gpu_profiles_build_every_configuration(profile):
    params = book.load_profile(ROOT, profile)
    built = configurations(params, render_device="cpu")
    assert built["data"].image_size == 224 and params["render_device"] == "cuda"
    for name, _, _ in MODELS:
        config = built[name]
        assert config.device == "cuda" and config.width == 1.0, name


def real_sizes(model: str) -> set[tuple[int, float, int]]:
    """The distinct (image size, width, views) of ``model`` over the GPU profiles."""
    sizes = set()
    for profile in GPU_PROFILES:
        params = book.load_profile(ROOT, profile)
        config = configurations(params, render_device="cpu")[model]
        sizes.add((params["image_size"], config.width, config.n_views))
    return sizes


@pytest.mark.parametrize("model", [m[0] for m in MODELS])
def test_gpu_profiles_take_one_step_at_their_real_size(model):
    morphable_model = random_morphable_model(70)
    for image_size, width, n_views in sorted(real_sizes(model)):
        torch.manual_seed(0)
        measured = training_throughput(
            model,
            morphable_model,
            image_size=image_size,
            width=width,
            n_views=n_views,
            batch_size=1,
            device="cpu",
            steps=1,
            warmup=0,
            precision="bf16",
        )
        assert measured.image_size == 224 and measured.width == 1.0
        # the full VGG-16's convolutions (14.7 M weights) and our heads
        assert measured.parameters > 14.7e6
        assert math.isfinite(measured.step_ms) and measured.step_ms > 0

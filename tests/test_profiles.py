"""The GPU profiles on a machine without a GPU: the `gpu` and `paper` parameter files
build every configuration the notebooks build from them (the data set's and the four
networks'), and each network takes one real training step at the profiles' image size
and width (the full VGG-16 at 224 px) on the CPU. The batch is cut to one scene, the
device to the CPU: nothing else differs from the run on a GPU."""

import math

import pytest
import torch

from benchmarks.training_throughput import random_morphable_model
from facelib import book
from facelib.learn.throughput import MODELS, training_throughput
from facelib.learn.training import TrainConfig
from facelib.world.build import DatasetConfig

ROOT = book.repo_root()
GPU_PROFILES = ("gpu", "paper")


def configurations(params: dict) -> dict[str, object]:
    """The configurations of notebooks 01-03 built from a profile's parameters, as the
    notebooks build them (the data set's renderer on the CPU: its configuration
    refuses a CUDA device that torch cannot see)."""
    data = DatasetConfig(
        profile=params["profile"],
        seed=params["seed"],
        n_subjects=params["n_subjects"],
        image_size=params["image_size"],
        photos_per_subject=params["photos_per_subject"],
        n_registered=params["n_registered"],
        n_capture_subjects=params["n_capture_subjects"],
        capture_frames=params["capture_frames"],
        workers=params["workers"],
        render_device="cpu",
    )
    common = dict(
        width=params["width"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        patience=params["patience"],
        seed=params["seed"],
        device=params["device"],
        precision=params["precision"],
        max_steps_per_epoch=params["max_steps_per_epoch"] or None,
    )
    mv = dict(common, n_views=params["n_views"], ema_decay=params["mv_ema_decay"])
    return {
        "data": data,
        "SV": TrainConfig(
            network="sv",
            epochs=params["sv_epochs"],
            ema_decay=params["sv_ema_decay"],
            pose_warmup_epochs=params["pose_warmup_epochs"],
            **common,
        ),
        "MV Add": TrainConfig(
            network="mv", merge="add", epochs=params["mv_epochs"], **mv
        ),
        "MV Concat": TrainConfig(
            network="mv", merge="concat", epochs=params["mv_epochs"], **mv
        ),
        "MV Shape-Concat": TrainConfig(
            network="mv_shape", merge="concat", epochs=params["shape_epochs"], **mv
        ),
    }


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_gpu_profiles_build_every_configuration(profile):
    params = book.load_profile(ROOT, profile)
    built = configurations(params)
    assert built["data"].image_size == 224 and params["render_device"] == "cuda"
    for name, _, _ in MODELS:
        config = built[name]
        assert config.device == "cuda" and config.width == 1.0, name


def real_sizes(model: str) -> set[tuple[int, float, int]]:
    """The distinct (image size, width, views) of ``model`` over the GPU profiles."""
    sizes = set()
    for profile in GPU_PROFILES:
        params = book.load_profile(ROOT, profile)
        config = configurations(params)[model]
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

"""Shared fixtures: a tiny data set built once per test session."""

import pytest

from facelib.world.build import DatasetConfig, build_dataset

TINY = dict(
    n_subjects=10,
    image_size=32,
    photos_per_subject=2,
    n_registered=0,
    n_capture_subjects=1,
    capture_frames=30,
    workers=1,
)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    build_dataset(DatasetConfig(profile="tiny", **TINY), root)
    return root


@pytest.fixture(scope="session")
def tiny_path(tiny_root):
    return tiny_root / "tiny"

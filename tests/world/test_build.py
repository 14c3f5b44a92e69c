"""facelib.world.build: determinism, what the build writes, and no half-written data.

(Refusing corrupt or old data sets: tests/data/test_dataset.py.)
"""

import json

import numpy as np
import pytest
import torch
from conftest import TINY

import facelib.world.build as dataset_module
from facelib.data.dataset import load_dataset
from facelib.world.build import DatasetConfig, build_dataset


@pytest.fixture(scope="module")
def built(tiny_root, tiny_path):
    return tiny_root, tiny_path


def test_same_seed_same_bytes_other_seed_other_bytes(built, tmp_path):
    _, path = built
    again = build_dataset(DatasetConfig(profile="tiny", **TINY), tmp_path)
    first, second = (
        json.loads((p / "manifest.json").read_text()) for p in (path, again)
    )
    assert first["files"] == second["files"]
    other = build_dataset(DatasetConfig(profile="other", seed=1, **TINY), tmp_path)
    third = json.loads((other / "manifest.json").read_text())
    assert third["files"]["images.npy"] != first["files"]["images.npy"]


def test_load_reads_what_was_built(built):
    _, path = built
    data = load_dataset(path)
    assert data.images.shape == (10, 2, 3, 32, 32) and data.images.dtype == np.uint8
    assert data.capture_images.shape == (1, 2, 30, 3, 32, 32)
    assert sorted(
        np.concatenate([data.subjects(s) for s in ("train", "val", "test")]).tolist()
    ) == list(range(10))
    assert len(data.subjects("train")) == 7 and len(data.subjects("test")) == 2
    assert int(data.capture_subjects[0]) in data.subjects("test")
    assert data.scan(int(data.capture_subjects[0])).landmarks.shape == (68, 3)
    assert data.manifest["counts"]["modes"] == data.morphable_model.n_modes
    assert not data.images.flags.writeable  # memory-mapped read-only
    with pytest.raises(ValueError, match="split must be"):
        data.subjects("holdout")


def test_no_silent_overwrite_and_no_half_written_data(built, tmp_path, monkeypatch):
    root, path = built
    with pytest.raises(FileExistsError, match="overwrite=True"):
        build_dataset(DatasetConfig(profile="tiny", **TINY), root)

    def broken(*args, **kwargs):
        raise KeyboardInterrupt("interrupted while writing")

    monkeypatch.setattr(dataset_module.MorphableModel, "save", broken)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(DatasetConfig(profile="fresh", **TINY), tmp_path)
    assert (
        list(tmp_path.iterdir()) == []
    )  # neither the data set nor its temporary folder


def test_bad_configuration_is_explained():
    with pytest.raises(ValueError, match=r"n_registered=30 \(0..28"):
        DatasetConfig(n_subjects=40, n_registered=30)
    with pytest.raises(ValueError, match="capture_frames=10"):
        DatasetConfig(capture_frames=10)
    with pytest.raises(ValueError, match="render_device='tpu'"):
        DatasetConfig(render_device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            DatasetConfig(render_device="cuda")


def test_faces_built_in_worker_processes_are_the_faces():
    from facelib.world.identity import face_shapes, sample_identities
    from facelib.world.template import build_template

    template = build_template()
    identities = sample_identities(
        200, np.random.default_rng(7)
    )  # two chunks of 100: two workers
    parallel = dataset_module.face_shapes_parallel(identities, template, workers=2)
    assert parallel.shape == (200, template.n_points, 3)
    np.testing.assert_allclose(
        parallel[::25], face_shapes(identities[::25], template), rtol=0, atol=1e-9
    )  # order kept

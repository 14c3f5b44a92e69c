"""facelib.world.build: determinism, what the build writes, and no half-written data.

(Refusing corrupt or old data sets: tests/data/test_dataset.py.)
"""

import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import TINY

import facelib.world.build as dataset_module
from facelib.data.dataset import load_dataset
from facelib.world.build import DatasetConfig, build_dataset
from facelib.world.registration import RegistrationSettings
from facelib.world.scans import ScanSettings


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
    with pytest.raises(ValueError, match="engine='cluster' is neither 'local' nor"):
        DatasetConfig(engine="cluster")
    with pytest.raises(ValueError, match="workers=1 with engine='tcp://node1:8786'"):
        DatasetConfig(engine="tcp://node1:8786", workers=1)


def test_the_engine_comes_from_the_environment_and_stays_out_of_the_repr(
    monkeypatch,
):
    monkeypatch.setenv("FACELIB_ENGINE", "tcp://node1:8786")
    config = DatasetConfig()
    assert config.engine == "tcp://node1:8786" and "engine" not in repr(config)
    assert config == DatasetConfig(engine="local")  # where it runs, not what it builds
    monkeypatch.setenv("FACELIB_ENGINE", "node1")
    with pytest.raises(ValueError, match="FACELIB_ENGINE: engine='node1'"):
        DatasetConfig()


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


def _digests(folder) -> dict[str, str]:
    """sha256 of every file under ``folder``, by path relative to it."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_build_on_a_dask_cluster_writes_the_local_pools_files(dask_cluster, tmp_path):
    """The same configuration built by 2 local worker processes and by a Dask cluster of
    2 workers (registration of the 2 scans ran there): every file the same, byte for
    byte, but the two that hold wall times (registration.json and manifest.json, which
    holds registration.json's checksum), which are the same once those are left out.
    A coarse registration schedule and small images keep each build near 15 s."""
    config = dict(
        TINY,
        image_size=16,
        photos_per_subject=1,
        n_registered=2,
        workers=2,
        scan=ScanSettings(n_points=2000),
        registration=RegistrationSettings(steps=((0.02, 10.0, 0.5, 1),)),
    )
    address = dask_cluster.scheduler_address
    pool = build_dataset(DatasetConfig(profile="tiny", **config), tmp_path / "pool")
    on_cluster = build_dataset(
        DatasetConfig(profile="tiny", engine=address, **config), tmp_path / "cluster"
    )
    ran = dask_cluster.scheduler.task_prefixes
    assert ran["register_one"].state_counts["memory"] == 2  # both scans, there
    timed = ("manifest.json", "registration.json")
    first, second = _digests(pool), _digests(on_cluster)
    assert set(first) == set(second) and len(first) > 20
    assert {k: v for k, v in first.items() if k not in timed} == {
        k: v for k, v in second.items() if k not in timed
    }
    registration, manifest = (
        [json.loads((p / name).read_text()) for p in (pool, on_cluster)]
        for name in timed[::-1]
    )
    for a, b in (registration, manifest):
        assert a.pop("seconds") and b.pop("seconds")
    assert registration[0] == registration[1]
    for m in manifest:
        m["files"].pop("registration.json")
    assert manifest[0] == manifest[1]
    assert "engine" not in manifest[0]["config"]

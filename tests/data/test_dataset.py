"""facelib.data.dataset: the typed record, its folder, and refusal of data sets that
are corrupt, incomplete or of another format version.

Uses the session's tiny data set (10 subjects, 2 photographs of 32 px each, no
registered scans, 1 captured subject with 30 frames: tests/conftest.py).
"""

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from facelib.data.dataset import (
    ARRAY_FIELDS,
    FORMAT_VERSION,
    Dataset,
    load_dataset,
    write_dataset,
)

N, V, S, M, F = 10, 2, 32, 1, 30  # the tiny data set's sizes (tests/conftest.py)

#: every array field as the Dataset docstring documents it: dtype (or, where the
#: docstring names none, the dtype's kind) and shape in the letters of the docstring
DOCUMENTED = {
    "images": (np.uint8, "N V 3 S S"),
    "K": (np.float32, "N V 3 3"),
    "q": (np.float32, "N V 4"),
    "t": (np.float32, "N V 3"),
    "shapes": (np.float32, "N P 3"),
    "split": (np.int8, "N"),
    "registered": (np.bool_, "N"),
    "registered_shapes": ("f", "R P 3"),
    "registration_vertex_error": ("f", "R P"),
    "identity_parameters": ("f", "N D"),
    "capture_subjects": ("i", "M"),
    "capture_images": (np.uint8, "M 2 F 3 S S"),
    "capture_K": ("f", "M 2 F 3 3"),
    "capture_q": ("f", "M 2 F 4"),
    "capture_t": ("f", "M 2 F 3"),
}


def inputs(data: Dataset) -> dict:
    """write_dataset's arguments for a copy of ``data`` (without scans)."""
    return dict(
        arrays={name: np.asarray(data.array(name)) for name in ARRAY_FIELDS},
        template=data.template,
        morphable_model=data.morphable_model,
        scans={},
        registration={},
        manifest={"profile": "copy", "seed": 3},
    )


# ----------------------------------------------------------------- the typed record
def test_every_array_field_has_its_documented_dtype_and_shape(data):
    assert set(DOCUMENTED) == set(ARRAY_FIELDS)  # a new field must be documented here
    R = int(np.asarray(data.registered).sum())
    sizes = dict(N=N, V=V, S=S, M=M, F=F, R=R, P=data.template.n_points)
    for name, (dtype, letters) in DOCUMENTED.items():
        array = data.array(name)
        assert isinstance(array, np.memmap) and not array.flags.writeable, name
        if isinstance(dtype, str):
            assert array.dtype.kind == dtype, (name, array.dtype)
        else:
            assert array.dtype == dtype, (name, array.dtype)
        expected = [
            sizes.get(x, int(x) if x.isdigit() else None) for x in letters.split()
        ]
        assert array.ndim == len(expected), (name, array.shape)
        for got, want in zip(array.shape, expected):
            assert want is None or got == want, (name, array.shape, letters)
    assert data.identity_parameters.shape[1] > 0
    # what the values mean
    assert set(np.unique(data.split)) <= {0, 1, 2}
    np.testing.assert_allclose(np.linalg.norm(data.q, axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(data.capture_q, axis=-1), 1.0, atol=1e-6)
    assert (data.K[..., 2, :] == [0, 0, 1]).all()
    assert data.photos_per_subject == V and data.image_size == S
    assert data.capture_frames == F


def test_array_returns_the_fields_and_refuses_other_names(data):
    for name in ARRAY_FIELDS:
        assert data.array(name) is getattr(data, name)
    for name in ("path", "manifest", "template", "morphable_model", "nose", "IMAGES"):
        with pytest.raises(ValueError, match=f"no array '{name}'"):
            data.array(name)


def test_tensor_copies_an_array(data):
    K = data.tensor("K", 3)
    assert K.dtype == torch.float64 and K.shape == (V, 3, 3)
    np.testing.assert_array_equal(K.numpy(), data.K[3].astype(np.float64))
    images = data.tensor("images", slice(0, 2), dtype=None)
    assert images.dtype == torch.uint8 and images.shape == (2, V, 3, S, S)
    np.testing.assert_array_equal(images.numpy(), data.images[:2])
    before = np.array(data.images[:2])
    images.fill_(7)  # a copy: the data set is untouched
    np.testing.assert_array_equal(data.images[:2], before)
    with pytest.raises(ValueError, match="no array"):
        data.tensor("manifest")


# ------------------------------------------------------------------------ the folder
def test_write_dataset_writes_what_load_dataset_reads(data, tmp_path):
    target = write_dataset(tmp_path / "copy", **inputs(data))
    assert target == tmp_path / "copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no temporary folder
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["profile"] == "copy" and manifest["seed"] == 3
    # the manifest lists every other file with its sha256 (computed here with hashlib)
    files = {
        str(p.relative_to(target)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in target.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert manifest["files"] == files
    assert {f"{name}.npy" for name in ARRAY_FIELDS} <= set(files)
    back = load_dataset(target)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(back.array(name), data.array(name), err_msg=name)
        assert back.array(name).dtype == data.array(name).dtype, name
    np.testing.assert_array_equal(back.template.faces, data.template.faces)
    assert back.morphable_model.fingerprint() == data.morphable_model.fingerprint()


def test_write_dataset_refuses_missing_and_unknown_arrays(data, tmp_path):
    args = inputs(data)
    del args["arrays"]["K"], args["arrays"]["split"]
    with pytest.raises(ValueError, match=r"missing \['K', 'split'\], unknown \[\]"):
        write_dataset(tmp_path / "a", **args)
    args = inputs(data)
    args["arrays"]["depth"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"missing \[\], unknown \['depth'\]"):
        write_dataset(tmp_path / "b", **args)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_write_dataset_replaces_a_data_set_only_when_told(data, tmp_path):
    target = write_dataset(tmp_path / "copy", **inputs(data))
    before = (target / "manifest.json").read_bytes()
    args = inputs(data)
    args["manifest"] = {"profile": "copy", "seed": 4}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_dataset(target, **args)
    assert (target / "manifest.json").read_bytes() == before
    write_dataset(target, **args, overwrite=True)
    assert json.loads((target / "manifest.json").read_text())["seed"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # the old one is gone


# ------------------------------------------------------------ refusing bad data sets
def test_corruption_and_missing_files_are_refused(tiny_path, tiny_copy, tmp_path):
    raw = bytearray((tiny_copy / "K.npy").read_bytes())
    raw[-1] ^= 0xFF
    (tiny_copy / "K.npy").write_bytes(bytes(raw))
    with pytest.raises(
        ValueError, match=r"K.npy does not match its checksum.*01_dataset.*PROFILE=tiny"
    ):
        load_dataset(tiny_copy)
    load_dataset(tiny_copy, verify=False)  # only the checksums are skipped
    shutil.copyfile(tiny_path / "K.npy", tiny_copy / "K.npy")
    (tiny_copy / "q.npy").unlink()
    with pytest.raises(FileNotFoundError, match="q.npy is missing"):
        load_dataset(tiny_copy)
    (tiny_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_dataset(tiny_copy)
    with pytest.raises(FileNotFoundError, match="no data set"):
        load_dataset(tmp_path / "nothing")


def test_another_format_version_is_refused(tiny_copy):
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    for old in (FORMAT_VERSION - 1, None):
        manifest["format_version"] = old
        (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(
            ValueError,
            match=rf"format version {old}, this facelib reads {FORMAT_VERSION}"
            r".*01_dataset",
        ):
            load_dataset(tiny_copy)


def test_an_array_missing_from_the_manifest_is_refused(tiny_copy):
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    del manifest["files"]["shapes.npy"]
    (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="no shapes.npy in its manifest"):
        load_dataset(tiny_copy)


def test_another_morphable_model_is_refused(data, tiny_copy):
    """A 3DMM swapped for another one, its checksum updated: the fingerprint in the
    manifest still tells."""
    model = data.morphable_model
    arrays = model.arrays()
    arrays["mean"] = arrays["mean"] + 1.0
    type(model)(**arrays).save(tiny_copy / "morphable_model.npz")
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    raw = (tiny_copy / "morphable_model.npz").read_bytes()
    manifest["files"]["morphable_model.npz"] = hashlib.sha256(raw).hexdigest()
    (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="not the model this data set was built with"):
        load_dataset(tiny_copy)

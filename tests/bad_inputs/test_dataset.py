"""Bad data sets are refused with an error that names the problem and the fix: a
manifest that leaves out a file (or lists one that is no part of a data set), files on
disk that it does not list, counts that disagree with the arrays' shapes, arrays of the
wrong dtype or shape, malformed manifests; write_dataset refuses to write such a data
set at all.

Uses copies of the session's tiny data set (tests/conftest.py: 10 subjects, 2
photographs of 32 px, no registered scans, 1 captured subject with 30 frames).
"""

import hashlib
import json

import numpy as np
import pytest

from facelib.data.dataset import ARRAY_FIELDS, load_dataset, write_dataset
from facelib.data.scan import load_scan

FIX = r"01_dataset.*PROFILE=tiny"  # every load error says what to re-run


def read_manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder, manifest):
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def replace_array(folder, name, array):
    """Write ``array`` as ``<name>.npy`` and update its checksum: only the shape and
    dtype checks can tell."""
    np.save(folder / f"{name}.npy", array, allow_pickle=False)
    manifest = read_manifest(folder)
    raw = (folder / f"{name}.npy").read_bytes()
    manifest["files"][f"{name}.npy"] = hashlib.sha256(raw).hexdigest()
    write_manifest(folder, manifest)


def scan_files(folder):
    return sorted(
        str(p.relative_to(folder)) for p in (folder / "scans").rglob("*") if p.is_file()
    )


def inputs(data):
    """write_dataset's arguments for a copy of ``data`` (without scans)."""
    return dict(
        arrays={name: np.asarray(data.array(name)) for name in ARRAY_FIELDS},
        template=data.template,
        morphable_model=data.morphable_model,
        scans={},
        registration={},
        manifest={"profile": "copy", "seed": 3},
    )


# ------------------------------------------------------- the manifest lists every file
@pytest.mark.parametrize("rel", ["notes.txt", "scans/test/extra.ply", "a/b/c.npy"])
def test_a_file_the_manifest_does_not_list_is_refused(tiny_copy, rel):
    (tiny_copy / rel).parent.mkdir(parents=True, exist_ok=True)
    (tiny_copy / rel).write_bytes(b"stray")
    with pytest.raises(ValueError, match=rf"{rel}.*does not list.*remove it.*{FIX}"):
        load_dataset(tiny_copy)
    with pytest.raises(ValueError, match="does not list"):
        load_dataset(
            tiny_copy, verify=False
        )  # the listing is checked without checksums


@pytest.mark.parametrize(
    "name", ["images.npy", "template.npz", "morphable_model.npz", "registration.json"]
)
def test_a_file_left_out_of_the_manifest_is_refused(tiny_copy, name):
    manifest = read_manifest(tiny_copy)
    del manifest["files"][name]
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"no {name} in its manifest.*{FIX}"):
        load_dataset(tiny_copy)
    (tiny_copy / name).unlink()  # gone from the disk too: still refused
    with pytest.raises(ValueError, match=rf"no {name} in its manifest.*{FIX}"):
        load_dataset(tiny_copy)


def test_a_scan_left_out_of_the_manifest_is_refused(tiny_copy):
    ply = next(rel for rel in scan_files(tiny_copy) if rel.endswith(".ply"))
    manifest = read_manifest(tiny_copy)
    del manifest["files"][ply]
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"{ply}.*does not list.*{FIX}"):
        load_dataset(tiny_copy)


@pytest.mark.parametrize(
    "removed, kept", [(".landmarks.txt", ".ply"), (".ply", ".landmarks.txt")]
)
def test_half_a_scan_removed_with_its_entry_is_refused(tiny_copy, removed, kept):
    files = scan_files(tiny_copy)
    assert len(files) == 2  # the captured subject's .ply and .landmarks.txt
    gone = next(f for f in files if f.endswith(removed))
    manifest = read_manifest(tiny_copy)
    del manifest["files"][gone]
    (tiny_copy / gone).unlink()
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"has only its \{kept} file.*{FIX}"):
        load_dataset(tiny_copy)


def test_a_listed_file_that_is_no_part_of_a_data_set_is_refused(tiny_copy):
    (tiny_copy / "notes.txt").write_text("hello")
    manifest = read_manifest(tiny_copy)
    manifest["files"]["notes.txt"] = hashlib.sha256(b"hello").hexdigest()
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"lists notes.txt, which is no file.*{FIX}"):
        load_dataset(tiny_copy)


# ------------------------------------------------------- counts against the arrays
@pytest.mark.parametrize(
    "key",
    [
        "subjects",
        "photos_per_subject",
        "image_size",
        "capture_subjects",
        "capture_frames",
        "vertices",
        "registered",
        "train",
        "test",
        "modes",
    ],
)
def test_counts_that_disagree_with_the_arrays_are_refused(tiny_copy, key):
    manifest = read_manifest(tiny_copy)
    manifest["counts"][key] += 1
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"counts\['{key}'\].*{FIX}"):
        load_dataset(tiny_copy, verify=False)


@pytest.mark.parametrize("value", ["10", 10.0, True, -1, None])
def test_a_count_that_is_not_a_size_is_refused(tiny_copy, value):
    manifest = read_manifest(tiny_copy)
    manifest["counts"]["subjects"] = value
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"not integers >= 0.*{FIX}"):
        load_dataset(tiny_copy)


def test_a_count_left_out_is_refused(tiny_copy):
    manifest = read_manifest(tiny_copy)
    del manifest["counts"]["modes"]
    write_manifest(tiny_copy, manifest)
    with pytest.raises(ValueError, match=rf"no counts \['modes'\].*{FIX}"):
        load_dataset(tiny_copy)


# ------------------------------------------------------- the arrays' dtypes and shapes
def test_an_array_of_another_shape_is_refused(data, tiny_copy):
    replace_array(tiny_copy, "K", np.asarray(data.K)[:, :1])  # V = 1, not 2
    with pytest.raises(
        ValueError,
        match=rf"K.npy has shape \(10, 1, 3, 3\).*V = 2 from "
        rf"counts\['photos_per_subject'\].*{FIX}",
    ):
        load_dataset(tiny_copy)


def test_an_array_of_another_dtype_is_refused(data, tiny_copy):
    replace_array(tiny_copy, "images", np.asarray(data.images).astype(np.float32))
    with pytest.raises(ValueError, match=rf"images.npy holds float32.*uint8.*{FIX}"):
        load_dataset(tiny_copy)


def test_an_array_with_another_number_of_axes_is_refused(data, tiny_copy):
    replace_array(tiny_copy, "q", np.asarray(data.q).reshape(10, -1))
    with pytest.raises(ValueError, match=rf"q is \(N, V, 4\).*{FIX}"):
        load_dataset(tiny_copy)


def test_a_split_outside_its_three_values_is_refused(data, tiny_copy):
    split = np.array(data.split)
    split[0] = 3
    replace_array(tiny_copy, "split", split)
    with pytest.raises(ValueError, match=rf"split.npy holds values outside.*{FIX}"):
        load_dataset(tiny_copy)


def test_captures_of_a_training_subject_are_refused(data, tiny_copy):
    train = int(data.subjects("train")[0])
    replace_array(tiny_copy, "capture_subjects", np.array([train], np.int64))
    with pytest.raises(ValueError, match=rf"not distinct test subjects.*{FIX}"):
        load_dataset(tiny_copy)


def test_an_unreadable_array_is_refused_without_checksums(tiny_copy):
    raw = (tiny_copy / "t.npy").read_bytes()
    (tiny_copy / "t.npy").write_bytes(raw[: len(raw) // 2])  # truncated
    with pytest.raises(ValueError, match=rf"t.npy is not a readable .npy.*{FIX}"):
        load_dataset(tiny_copy, verify=False)


# ------------------------------------------------------- malformed manifests
@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: [m], "must hold a JSON object, got list"),
        (lambda m: {**m, "files": ["K.npy"]}, "no 'files' dictionary"),
        (lambda m: {**m, "files": {}}, "no 'files' dictionary"),
        (
            lambda m: {**m, "files": {**m["files"], "../K.npy": m["files"]["K.npy"]}},
            "'../K.npy', which is not a relative path inside",
        ),
        (
            lambda m: {**m, "files": {**m["files"], "K.npy": "abc"}},
            "K.npy with checksum 'abc', not a sha256",
        ),
        (lambda m: {**m, "counts": [10, 2]}, "'counts' must be a dictionary"),
        (
            lambda m: {k: v for k, v in m.items() if k != "morphable_model_sha256"},
            "no 'morphable_model_sha256'",
        ),
    ],
)
def test_a_malformed_manifest_is_refused(tiny_copy, edit, message):
    write_manifest(tiny_copy, edit(read_manifest(tiny_copy)))
    with pytest.raises(ValueError, match=rf"{message}.*{FIX}"):
        load_dataset(tiny_copy)


def test_a_manifest_that_is_not_text_is_refused(tiny_copy):
    (tiny_copy / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=rf"not valid JSON.*{FIX}"):
        load_dataset(tiny_copy)


# ------------------------------------------------------- write_dataset refuses too
def test_write_dataset_fills_in_the_counts_and_reads_back_the_same(data, tmp_path):
    target = write_dataset(tmp_path / "copy", **inputs(data))
    assert read_manifest(target)["counts"] == data.manifest["counts"]
    back = load_dataset(target)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(back.array(name), data.array(name), err_msg=name)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda a: a["manifest"].update(counts={"subjects": 11}),
            r"N = 11 from counts\['subjects'\]",
        ),
        (
            lambda a: a["manifest"].update(counts={"modes": "6"}),
            "not integers >= 0",
        ),
        (
            lambda a: a["arrays"].update(K=np.zeros((10, 3, 3, 3), np.float32)),
            "K.npy has shape",
        ),
        (
            lambda a: a["arrays"].update(t=a["arrays"]["t"].astype(np.float64)),
            "t.npy holds float64",
        ),
        (lambda a: a["manifest"].update(files={}), "adds the manifest's \\['files'\\]"),
        (lambda a: a.update(scans={"val": {}}), "unknown parts \\['val'\\]"),
    ],
)
def test_write_dataset_refuses_what_load_dataset_would(data, tmp_path, change, message):
    args = inputs(data)
    change(args)
    with pytest.raises(ValueError, match=message):
        write_dataset(tmp_path / "bad", **args)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_write_dataset_refuses_scans_of_the_wrong_subjects(data, tiny_path, tmp_path):
    scan = load_scan(next((tiny_path / "scans" / "test").glob("*.ply")))
    args = inputs(data)
    train = int(data.subjects("train")[0])
    args["scans"] = {"train": {train: scan}}  # a training scan, but none registered
    with pytest.raises(ValueError, match=r"training scans of subjects \[\d+\], but"):
        write_dataset(tmp_path / "bad", **args)
    args["scans"] = {"test": {train: scan}}
    with pytest.raises(ValueError, match="test scans of subjects.*or of none"):
        write_dataset(tmp_path / "bad", **args)
    assert list(tmp_path.iterdir()) == []

"""facelib.data.scan: a raw scan's files (mesh + landmarks) round trip, and bad files
are refused with a message that says what is wrong."""

import numpy as np
import pytest
import trimesh

from facelib.data.scan import RawScan, load_scan, save_scan


@pytest.fixture()
def scan():
    """A hand-made scan: a bumpy 7 x 6 grid of points (mm), two triangles per cell, and
    68 landmarks of which some are unknown (nan)."""
    rng = np.random.default_rng(0)
    rows, cols = 7, 6
    y, x = np.mgrid[0:rows, 0:cols] * 10.0
    z = rng.normal(0, 2, (rows, cols))
    vertices = np.stack([x, y, z], -1).reshape(-1, 3) + rng.normal(0, 0.3, (42, 3))
    ids = np.arange(rows * cols).reshape(rows, cols)
    a, b = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel()
    c, d = ids[1:, :-1].ravel(), ids[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])
    landmarks = rng.uniform(-80, 80, (68, 3))
    landmarks[[0, 16, 40]] = np.nan  # unknown landmarks
    return RawScan(vertices=vertices, faces=faces, landmarks=landmarks)


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
def test_save_load_round_trip(scan, tmp_path, suffix):
    mesh_path, lm_path = save_scan(scan, tmp_path / "s" / f"subject{suffix}")
    assert mesh_path == tmp_path / "s" / f"subject{suffix}"
    assert lm_path.name == "subject.landmarks.txt"
    back = load_scan(mesh_path)
    np.testing.assert_allclose(back.vertices, scan.vertices, atol=1e-5)
    assert np.array_equal(back.faces, scan.faces)
    # nan rows stay nan, the others to the 4 decimals of the file
    np.testing.assert_allclose(back.landmarks, scan.landmarks, atol=1e-4)
    assert np.isnan(back.landmarks).any(axis=1).tolist() == [
        k in (0, 16, 40) for k in range(68)
    ]
    assert back.pose is None  # a scan read from files has no known pose
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(
        [f"subject{suffix}", "subject.landmarks.txt"]
    )  # and no temporary file


def test_the_files_are_plain_formats(scan, tmp_path):
    """Read back with trimesh and numpy alone, as a user with real scans would write
    them."""
    mesh_path, lm_path = save_scan(scan, tmp_path / "scan.ply")
    mesh = trimesh.load(mesh_path, process=False, force="mesh")
    np.testing.assert_allclose(mesh.vertices, scan.vertices, atol=1e-5)
    text = lm_path.read_text().splitlines()
    assert text[0].startswith("#") and len(text) == 69  # a header and 68 rows
    assert text[1 + 16].split() == ["nan", "nan", "nan"]
    np.testing.assert_allclose(
        [float(v) for v in text[2].split()], scan.landmarks[1], atol=1e-4
    )


def test_bad_files(scan, tmp_path):
    with pytest.raises(FileNotFoundError, match="landmark"):
        trimesh.Trimesh(scan.vertices, scan.faces).export(tmp_path / "alone.ply")
        load_scan(tmp_path / "alone.ply")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_scan(tmp_path / "nothing.ply")
    mesh_path, lm_path = save_scan(scan, tmp_path / "short.ply")
    np.savetxt(lm_path, scan.landmarks[:10])
    with pytest.raises(ValueError, match="68 rows"):
        load_scan(mesh_path)
    with pytest.raises(ValueError, match=".ply or .obj"):
        save_scan(scan, tmp_path / "scan.stl")
    empty = RawScan(
        vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), int), landmarks=scan.landmarks
    )
    trimesh.Trimesh(empty.vertices, empty.faces).export(tmp_path / "empty.ply")
    np.savetxt(tmp_path / "empty.landmarks.txt", scan.landmarks)
    with pytest.raises(ValueError, match="no faces"):
        load_scan(tmp_path / "empty.ply")

"""Mesh and landmark files are read as written (vertex i is the file's i-th vertex,
used by a face or not), and a file cut short or a landmark file that names no vertex
is an error that blames the right file."""

import numpy as np
import pytest
import trimesh

from facelib.evaluation.metrics import load_mesh_with_landmarks, save_obj

# five vertices; the first is used by no face (trimesh's OBJ loader drops it)
VERTICES = np.array(
    [
        [9.0, 9.0, 9.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 1.0, 0.5],
    ]
)


def obj_text(faces: str) -> str:
    return "".join(f"v {x} {y} {z}\n" for x, y, z in VERTICES) + faces


def landmark_ids(tmp_path, ids: dict[int, object], name="lm.txt"):
    """A 51-row landmark file: -1 everywhere but the rows in ``ids``."""
    rows = ["-1"] * 51
    for row, value in ids.items():
        rows[row] = str(value)
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def read(tmp_path, text: str, suffix=".obj", ids=None):
    mesh = tmp_path / f"mesh{suffix}"
    mesh.write_text(text) if isinstance(text, str) else mesh.write_bytes(text)
    return load_mesh_with_landmarks(mesh, landmark_ids(tmp_path, ids or {13: 1}))


# ------------------------------------------------------------------------------- OBJ
def test_obj_unused_first_vertex_keeps_the_files_vertex_ids(tmp_path):
    v, f, lm = read(tmp_path, obj_text("f 2 3 4\nf 2 4 5\n"), ids={0: 0, 13: 3, 50: 4})
    np.testing.assert_array_equal(v, VERTICES)
    np.testing.assert_array_equal(f, [[1, 2, 3], [1, 3, 4]])
    # by hand: landmark row 0 is vertex 0 (9, 9, 9), the nose tip (row 13) vertex 3
    np.testing.assert_array_equal(lm[0], [9.0, 9.0, 9.0])
    np.testing.assert_array_equal(lm[13], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(lm[50], [0.0, 1.0, 0.5])
    assert np.isnan(lm[1:13]).all() and np.isnan(lm[14:50]).all()


def test_obj_quads_and_polygons_become_fans(tmp_path):
    v, f, _ = read(tmp_path, obj_text("f 2 3 4 5\nf 1 2 3 4 5\n"))
    np.testing.assert_array_equal(
        f, [[1, 2, 3], [1, 3, 4], [0, 1, 2], [0, 2, 3], [0, 3, 4]]
    )
    assert len(v) == 5


@pytest.mark.parametrize(
    "faces",
    [
        "vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 1\nf 2/1/1 3/2/1 4/3/1\nf 2/1/1 4/3/1 5/1/1\n",
        "vn 0 0 1\nf 2//1 3//1 4//1\nf 2//1 4//1 5//1\n",
        "vt 0 0\nvt 1 0\nf 2/1 3/2 4/1\nf 2/2 4/1 5/2\n",
        "f -4 -3 -2\nf -4 -2 -1\n",
        "g face\nusemtl skin\ns 1\nf 2 3 4 # a comment\n\nf 2 4 5\n",
    ],
    ids=["v/vt/vn", "v//vn", "v/vt", "negative", "groups-comments"],
)
def test_obj_face_forms_give_the_same_triangles(tmp_path, faces):
    v, f, _ = read(tmp_path, obj_text(faces))
    np.testing.assert_array_equal(v, VERTICES)
    np.testing.assert_array_equal(f, [[1, 2, 3], [1, 3, 4]])


def test_obj_written_by_save_obj_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    vertices = rng.normal(0, 50, (30, 3)).round(6)
    faces = rng.integers(1, 30, (20, 3))  # vertex 0 unused
    save_obj(tmp_path / "mesh.obj", vertices, faces)
    v, f, _ = load_mesh_with_landmarks(
        tmp_path / "mesh.obj", landmark_ids(tmp_path, {})
    )
    np.testing.assert_array_equal(v, vertices)
    np.testing.assert_array_equal(f, faces)


@pytest.mark.parametrize(
    "tail, line, problem",
    [
        ("f 2 3 4\nv 1.0 2.", 7, "vertex 'v 1.0 2.' lacks x, y and z"),
        ("f 2 3 4\nv 1.0 2.0 3.0e", 7, "lacks x, y and z"),
        ("f 2 3 4\nf 2 4", 7, "fewer than 3 vertices"),
        ("f 2 3 4\nf 2 4 x", 7, "bad vertex id 'x'"),
        ("f 0 1 2\n", 6, "vertex id 0 names no vertex"),
        ("f -1 -2 -9\n", 6, "vertex id -9 names no vertex"),
    ],
    ids=["cut-vertex", "cut-exponent", "cut-face", "bad-id", "zero-id", "far-negative"],
)
def test_obj_cut_short_or_corrupt_names_the_file_and_line(
    tmp_path, tail, line, problem
):
    with pytest.raises(
        ValueError, match=rf"mesh\.obj, line {line}: .*{problem}.*re-exp"
    ):
        read(tmp_path, obj_text(tail))


def test_a_truncated_obj_is_blamed_not_the_landmark_file(tmp_path):
    """The landmark names the last vertex, which the cut removed: the OBJ is at fault,
    not the landmark file (trimesh would read 5 vertices and blame the landmarks)."""
    text = obj_text("f 2 3 4\n") + "v 7.0 8."
    with pytest.raises(ValueError, match="mesh.obj, line 7.*re-export") as err:
        read(tmp_path, text, ids={13: 5})
    assert "lm.txt" not in str(err.value)


# ------------------------------------------------------------------------------- PLY
@pytest.mark.parametrize("encoding", ["ascii", "binary"])
def test_ply_unused_first_vertex_keeps_the_files_vertex_ids(tmp_path, encoding):
    mesh = trimesh.Trimesh(VERTICES, [[1, 2, 3], [1, 3, 4]], process=False)
    data = mesh.export(file_type="ply", encoding=encoding)
    v, f, lm = read(tmp_path, data, ".ply", ids={0: 0, 13: 3})
    # the file declares float32 coordinates: these are exact in float32
    np.testing.assert_array_equal(v, VERTICES)
    np.testing.assert_array_equal(f, [[1, 2, 3], [1, 3, 4]])
    np.testing.assert_array_equal(lm[[0, 13]], [[9.0, 9.0, 9.0], [1.0, 1.0, 0.0]])


def ascii_ply(body: str, n_vertices=5, n_faces=2) -> str:
    return (
        "ply\nformat ascii 1.0\n"
        f"element vertex {n_vertices}\n"
        "property float x\nproperty float y\nproperty float z\n"
        f"element face {n_faces}\nproperty list uchar int vertex_indices\n"
        "end_header\n" + body
    )


PLY_VERTICES = "".join(f"{x} {y} {z}\n" for x, y, z in VERTICES)


def test_ascii_ply_quads_become_fans(tmp_path):
    _, f, _ = read(tmp_path, ascii_ply(PLY_VERTICES + "4 1 2 3 4\n", n_faces=1), ".ply")
    np.testing.assert_array_equal(f, [[1, 2, 3], [1, 3, 4]])


@pytest.mark.parametrize(
    "body, line, problem",
    [
        (PLY_VERTICES + "3 1 2 3\n3 1 3", 16, "'face' element '3 1 3' does not match"),
        (PLY_VERTICES + "3 1 2 3\n", 15, "ends after 1 of its 2 'face' elements"),
        (PLY_VERTICES[:-6], 14, "'vertex' element '0.0 1.' does not match"),
    ],
    ids=["cut-face", "missing-face", "cut-vertex"],
)
def test_ascii_ply_cut_short_names_the_file_and_line(tmp_path, body, line, problem):
    """trimesh drops the faces of such a file without a word."""
    with pytest.raises(
        ValueError, match=rf"mesh\.ply, line {line}: .*{problem}.*re-exp"
    ):
        read(tmp_path, ascii_ply(body), ".ply")


def test_binary_ply_cut_short_is_blamed(tmp_path):
    mesh = trimesh.Trimesh(VERTICES, [[1, 2, 3], [1, 3, 4]], process=False)
    data = mesh.export(file_type="ply", encoding="binary")
    with pytest.raises(ValueError, match=r"mesh\.ply could not be read.*re-export"):
        read(tmp_path, data[:-5], ".ply")


# ------------------------------------------------------------------------- landmarks
@pytest.mark.parametrize(
    "value, shown",
    [(2.5, "2.5"), (-2, "-2.0"), (-0.5, "-0.5"), ("nan", "nan")],
    ids=["fraction", "negative", "negative-fraction", "nan"],
)
def test_landmark_ids_must_be_integer_vertex_ids_or_minus_one(tmp_path, value, shown):
    with pytest.raises(
        ValueError, match=rf"lm\.txt, row 14: .*{shown}.* integer vertex id.*or -1"
    ):
        read(tmp_path, obj_text("f 2 3 4\n"), ids={13: value})


def test_a_landmark_id_beyond_the_mesh_blames_the_landmarks(tmp_path):
    with pytest.raises(ValueError, match=r"lm\.txt: vertex id 5 is beyond.*another"):
        read(tmp_path, obj_text("f 2 3 4\n"), ids={13: 5})


def test_ragged_or_infinite_landmark_files_are_named(tmp_path):
    mesh = tmp_path / "mesh.obj"
    mesh.write_text(obj_text("f 2 3 4\n"))
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1 2 3\n" * 50 + "1 2\n")
    with pytest.raises(ValueError, match=r"ragged\.txt: unreadable.*51 or 68 rows"):
        load_mesh_with_landmarks(mesh, ragged)
    infinite = tmp_path / "inf.txt"
    infinite.write_text("1 2 3\n" * 50 + "1 inf 3\n")
    with pytest.raises(ValueError, match=r"inf\.txt: .*inf; write nan"):
        load_mesh_with_landmarks(mesh, infinite)

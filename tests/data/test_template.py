"""facelib.data.template: the template record, its iBUG landmark sets, and its .npz
file."""

import numpy as np
import pytest

from facelib.data.template import (
    IBUG51,
    NOSE_TIP,
    FaceTemplate,
    load_template,
    save_template,
)


@pytest.fixture()
def template():
    """A hand-made 3 x 5 grid template (15 vertices): mirror swaps the columns 0 <-> 4
    and 1 <-> 3; 68 landmarks picked at random among the vertices."""
    rows, cols = 3, 5
    s, y = np.meshgrid(np.arange(cols) * 10.0 - 20.0, np.arange(rows) * 10.0)
    ids = np.arange(rows * cols).reshape(rows, cols)
    a, b = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel()
    c, d = ids[1:, :-1].ravel(), ids[1:, 1:].ravel()
    return FaceTemplate(
        canonical=np.stack([s.ravel(), y.ravel()], 1),
        faces=np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]),
        mirror=ids[:, ::-1].ravel(),
        landmarks=np.random.default_rng(0).integers(0, rows * cols, 68),
        grid_shape=(rows, cols),
    )


def test_the_ibug_sets_written_out():
    # iBUG-68 (0-based): 0-16 jaw line, 27-35 nose with its tip at 30
    assert IBUG51.tolist() == list(range(17, 68)) and NOSE_TIP == 30


def test_landmarks51_are_the_landmarks_without_the_jaw_line(template):
    assert template.n_points == 15
    assert template.landmarks51.tolist() == template.landmarks.tolist()[17:]


def test_save_load_round_trip(template, tmp_path):
    path = save_template(template, tmp_path / "sub" / "template.npz")
    assert path == tmp_path / "sub" / "template.npz"
    assert [p.name for p in path.parent.iterdir()] == ["template.npz"]  # no temp file
    back = load_template(path)
    for name in ("canonical", "faces", "mirror", "landmarks"):
        want = getattr(template, name)
        got = getattr(back, name)
        assert np.array_equal(got, want) and got.dtype == want.dtype, name
    assert back.grid_shape == (3, 5)
    assert all(type(n) is int for n in back.grid_shape)
    # a plain .npz that numpy reads by itself
    with np.load(path, allow_pickle=False) as raw:
        assert sorted(raw.files) == [
            "canonical",
            "faces",
            "grid_shape",
            "landmarks",
            "mirror",
        ]


def test_load_refuses_pickled_arrays(template, tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        canonical=np.array([object()], dtype=object),
        faces=template.faces,
        mirror=template.mirror,
        landmarks=template.landmarks,
        grid_shape=np.array(template.grid_shape),
    )
    with pytest.raises(ValueError, match="allow_pickle"):
        load_template(path)

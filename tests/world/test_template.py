"""facelib.world.template: size, symmetry, triangulation and the iBUG-68 landmarks."""

import numpy as np
import pytest
import trimesh

from facelib.data.template import IBUG51, NOSE_TIP
from facelib.world.identity import Identity, face_shape
from facelib.world.template import build_template

# iBUG-68 left/right pairs, written out from the annotation scheme (not from our
# coordinates)
IBUG_PAIRS = (
    [(k, 16 - k) for k in range(8)]
    + [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22), (31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
)
IBUG_MIDLINE = [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


@pytest.fixture(scope="module")
def template():
    return build_template()


def test_size(template):
    assert 3000 <= template.n_points <= 10000
    rows, cols = template.grid_shape
    assert rows * cols == template.n_points and cols % 2 == 1
    assert template.faces.shape == (2 * (rows - 1) * (cols - 1), 3)


def test_mirror_is_a_symmetry_of_the_domain(template):
    m = template.mirror
    assert np.array_equal(m[m], np.arange(template.n_points))
    np.testing.assert_array_equal(template.canonical[m, 0], -template.canonical[:, 0])
    np.testing.assert_array_equal(template.canonical[m, 1], template.canonical[:, 1])


def test_triangulation_is_mirror_symmetric_and_consistent(template):
    as_sets = {frozenset(f) for f in template.faces.tolist()}
    mirrored = {frozenset(template.mirror[f].tolist()) for f in template.faces}
    assert as_sets == mirrored
    mesh = trimesh.Trimesh(
        face_shape(Identity(), template), template.faces, process=False
    )
    assert mesh.is_winding_consistent
    # normals point out of the face: towards -z on the front of the face
    front = np.abs(mesh.triangles_center[:, 0]) < 25
    assert (mesh.face_normals[front, 2] < 0).mean() > 0.95


def test_landmarks_follow_the_ibug_layout(template):
    lm = template.landmarks
    assert lm.shape == (68,) and len(set(lm.tolist())) == 68
    for a, b in IBUG_PAIRS:
        assert template.mirror[lm[a]] == lm[b], (a, b)
    for k in IBUG_MIDLINE:
        assert template.mirror[lm[k]] == lm[k], k
    assert np.array_equal(template.landmarks51, lm[17:]) and len(IBUG51) == 51


def test_landmarks_on_the_mean_face():
    template = build_template()
    v = face_shape(Identity(), template)[template.landmarks]
    # the subject's left side is +x: the left eye (42-47) and the left mouth corner (54)
    assert (
        (v[42:48, 0] > 10).all() and (v[36:42, 0] < -10).all() and v[54, 0] > v[48, 0]
    )
    # top to bottom (y down): brows, eyes, nose tip, mouth, chin
    assert v[19, 1] < v[37, 1] < v[NOSE_TIP, 1] < v[51, 1] < v[57, 1] < v[8, 1]
    # the nose tip is the landmark nearest the viewer (-z), on the midline
    assert np.argmin(v[:, 2]) == NOSE_TIP and abs(v[NOSE_TIP, 0]) < 1e-9
    # adult proportions (mm): outer eye corners ~ 85-100 apart, mouth 40-60 wide
    assert 80 < np.linalg.norm(v[36] - v[45]) < 105
    assert 40 < np.linalg.norm(v[48] - v[54]) < 65


def test_bad_grid():
    with pytest.raises(ValueError, match="odd number of columns"):
        build_template(columns=80)

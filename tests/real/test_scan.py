"""facelib.real.scan's ``james`` against facts about a real head that do not come from
the loader: the model frame's axes (+x the subject's left, +y down, the face towards
-z), an adult's eye width, landmarks on the scanned surface, outward normals."""

import numpy as np
import trimesh

from facelib.real.assets import asset_path
from facelib.real.scan import JAMES_TO_IBUG68

# iBUG-68 landmarks (0-based)
CHIN, NOSE_TIP = 8, 30
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 36, 45  # the subject's right and left
RIGHT_EYE_INNER, LEFT_EYE_INNER = 39, 42
MOUTH_RIGHT, MOUTH_LEFT = 48, 54


def test_mapping_is_a_permutation():
    """Every row of ``james.ljson`` is used exactly once."""
    assert JAMES_TO_IBUG68.shape == (68,)
    assert sorted(JAMES_TO_IBUG68.tolist()) == list(range(68))


def test_shapes_and_types(james):
    """68 finite landmarks; finite vertices with valid faces; one uv per vertex in [0,
    1]; an (H, W, 3) uint8 texture; a real scan has no known pose."""
    scan = james.scan
    assert scan.landmarks.shape == (68, 3)
    assert np.isfinite(scan.landmarks).all()
    V = len(scan.vertices)
    assert scan.vertices.shape == (V, 3) and V > 1000
    assert np.isfinite(scan.vertices).all()
    assert scan.faces.ndim == 2 and scan.faces.shape[1] == 3
    assert scan.faces.min() >= 0 and scan.faces.max() < V
    assert james.uv.shape == (V, 2)
    assert (james.uv >= 0).all() and (james.uv <= 1).all()
    assert james.texture.dtype == np.uint8
    assert james.texture.ndim == 3 and james.texture.shape[2] == 3
    assert scan.pose is None


def test_model_frame_axes(james):
    """+y is down: the chin is below the outer eye corners; -z is towards the viewer:
    the nose tip is in front of them; +x is the subject's left: the right eye's outer
    corner (36) has the smaller x, and so do the right inner corner and mouth corner."""
    lm = james.scan.landmarks
    eyes = lm[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER]]
    assert lm[CHIN, 1] > eyes[:, 1].max() + 50
    assert lm[NOSE_TIP, 2] < eyes[:, 2].min() - 10
    assert lm[RIGHT_EYE_OUTER, 0] < lm[LEFT_EYE_OUTER, 0]
    assert lm[RIGHT_EYE_INNER, 0] < lm[LEFT_EYE_INNER, 0]
    assert lm[MOUTH_RIGHT, 0] < lm[MOUTH_LEFT, 0]
    # the nose tip is between the eyes and above the mouth
    assert lm[RIGHT_EYE_OUTER, 0] < lm[NOSE_TIP, 0] < lm[LEFT_EYE_OUTER, 0]
    assert eyes[:, 1].max() < lm[NOSE_TIP, 1] < lm[[MOUTH_RIGHT, MOUTH_LEFT], 1].min()


def test_landmark_groups_are_in_ibug_order(james):
    """The reordering puts each group where iBUG-68 has it: the jaw runs from the
    subject's right (0) to the left (16) through the chin, the brows (17-26) are above
    the eyes (36-47), the nose bridge (27-30) runs downwards, the mouth (48-67) is
    below the nose (31-35)."""
    lm = james.scan.landmarks
    assert lm[0, 0] < lm[8, 0] < lm[16, 0]
    assert lm[8, 1] == lm[0:17, 1].max()
    assert lm[17:27, 1].mean() < lm[36:48, 1].mean()
    assert lm[17:22, 0].mean() < lm[22:27, 0].mean()  # right brow, then left
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()  # right eye, then left
    assert np.all(np.diff(lm[27:31, 1]) > 0)
    assert lm[48:68, 1].min() > lm[31:36, 1].mean()


def test_eye_width_is_an_adults(james):
    """The outer eye corners are 80-110 mm apart (an adult's biocular width is about
    85-95 mm): the scan is in millimetres."""
    lm = james.scan.landmarks
    width = np.linalg.norm(lm[RIGHT_EYE_OUTER] - lm[LEFT_EYE_OUTER])
    assert 80.0 < width < 110.0


def test_landmarks_lie_on_the_surface(james):
    """Landmarks and vertices went through the same transform: every landmark is
    within 6 mm of a vertex (median within 2 mm)."""
    V, lm = james.scan.vertices, james.scan.landmarks
    d2 = ((lm[:, None, :] - V[None, :, :]) ** 2).sum(-1).min(1)
    distance = np.sqrt(d2)
    assert distance.max() < 6.0
    assert np.median(distance) < 2.0


def test_transform_is_a_rotation(james):
    """(x, y, z) -> (x, -y, -z) keeps the mesh's orientation: its vertices are the
    file's with y and z negated, and its faces are the file's, so normals still point
    out of the head: around the nose tip they point towards the viewer (-z)."""
    raw = trimesh.load(asset_path("james.obj"), process=False, force="mesh")
    np.testing.assert_allclose(
        james.scan.vertices, np.asarray(raw.vertices) * [1.0, -1.0, -1.0]
    )
    np.testing.assert_array_equal(james.scan.faces, np.asarray(raw.faces))
    V = james.scan.vertices
    normals = james.scan.mesh().vertex_normals
    tip = np.argmin(np.linalg.norm(V - james.scan.landmarks[NOSE_TIP], axis=1))
    assert normals[tip, 2] < -0.7
    near = np.linalg.norm(V - V[tip], axis=1) < 15.0
    assert near.sum() > 5
    assert normals[near].mean(0)[2] < -0.5

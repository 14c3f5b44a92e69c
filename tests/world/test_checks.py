"""facelib.world.checks against references built here: shape sets with a known spread,
scipy's rigid alignment, a registration.json written by hand, hand-built 3DMMs with a
known leak, and a scan moved by a known similarity."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facelib.data.scan import RawScan
from facelib.geometry.morphable_model import MorphableModel
from facelib.tables import fmt
from facelib.world.checks import (
    REGISTRATION_ERRORS,
    mode_motion_leak,
    procrustes_spread,
    read_registration,
    registration_in_model_frame,
)
from facelib.world.identity import Identity, face_shape
from facelib.world.template import build_template


# ------------------------------------------------------------------------- helpers
def motions(x):
    """The 7 first-order similarity motions of points x (P, 3), as columns (3P, 7):
    translations, rotations about the centroid, resizing (written here, not taken from
    the library)."""
    c = x - x.mean(axis=0)
    cols = [np.tile(e, (len(x), 1)) for e in np.eye(3)]
    cols += [np.cross(e, c) for e in np.eye(3)]
    cols += [c]
    return np.stack([m.ravel() for m in cols], axis=1)


def orthogonal_to_motions(x, rng):
    """A random unit direction (P, 3) orthogonal to every similarity motion of x."""
    A = motions(x)
    d = rng.normal(size=A.shape[0])
    d -= A @ np.linalg.lstsq(A, d, rcond=None)[0]
    return (d / np.linalg.norm(d)).reshape(x.shape)


def rigid(rng):
    R = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
    return lambda x: x @ R.T + rng.normal(0, 30, 3)


# ------------------------------------------------------------------ procrustes_spread
@pytest.fixture
def pair():
    """Two shapes X + E and X - E, E orthogonal to the similarity motions of X, with a
    vertex RMS of 2 mm: each lies 2 mm RMS from their mean."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 40, (50, 3))
    X -= X.mean(axis=0)
    E = orthogonal_to_motions(X, rng) * 2.0 * np.sqrt(len(X))
    assert np.isclose(np.sqrt((E**2).sum(-1).mean()), 2.0)
    return rng, X, E


def test_rigid_spread_of_a_known_pair_in_any_poses(pair):
    rng, X, E = pair
    shapes = np.stack([rigid(rng)(X + E), rigid(rng)(X - E)])
    spread = procrustes_spread(shapes, scale=False)
    assert spread.alignment == "rigid" and spread.n_shapes == 2
    np.testing.assert_allclose(spread.rms_mm, [2.0, 2.0], rtol=1e-8)
    assert spread.median_mm == pytest.approx(2.0, rel=1e-8)


def test_similarity_spread_of_a_known_pair_shrinks_by_the_procrustes_scale(pair):
    """With scale, each shape is shrunk onto the mean by s = |X|^2 / (|X|^2 + |E|^2)
    (the least-squares scale, E being orthogonal to X), so it lies s x 2 mm from it."""
    rng, X, E = pair
    shapes = np.stack([X + E + rng.normal(0, 30, 3), X - E + rng.normal(0, 30, 3)])
    spread = procrustes_spread(shapes, scale=True)
    s = (X**2).sum() / ((X**2).sum() + (E**2).sum())
    assert spread.alignment == "similarity"
    np.testing.assert_allclose(spread.rms_mm, [2.0 * s, 2.0 * s], rtol=1e-8)


def test_rigid_spread_of_two_random_shapes_is_scipys_rssd_halved():
    """Two shapes: each sits half their rigid distance from the mean; scipy's
    align_vectors gives that distance (the root sum of squared distances)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 40, (2, 80, 3))
    b = rigid(rng)(b)
    _, rssd = Rotation.align_vectors(a - a.mean(0), b - b.mean(0))
    spread = procrustes_spread(np.stack([a, b]), scale=False)
    np.testing.assert_allclose(spread.rms_mm, rssd / (2 * np.sqrt(80)), rtol=1e-7)


def test_spread_statistics_are_numpys():
    rng = np.random.default_rng(2)
    shapes = rng.normal(0, 40, (1, 30, 3)) + rng.normal(0, 3, (9, 30, 3))
    spread = procrustes_spread(shapes.astype(np.float32), scale=True)
    assert spread.rms_mm.dtype == np.float64 and spread.n_shapes == 9
    assert spread.median_mm == np.median(spread.rms_mm)
    assert spread.percentile_mm(5) == np.percentile(spread.rms_mm, 5)
    assert spread.percentile_mm(95) == np.percentile(spread.rms_mm, 95)


# ------------------------------------------------------------------ read_registration
def write_registration(folder, **changes):
    raw = {
        "subjects": [4, 7, 9],
        "seconds": [20.0, 31.0, 25.0],
        "vertex_error_median_mm": [2.5, 3.1, 2.7],
        "vertex_error_p95_mm": [9.0, 12.5, 9.7],
        "surface_error_median_mm": [0.21, 0.18, 0.24],
        "surface_error_p95_mm": [0.7, 0.66, 0.74],
        "workers": 2,
    }
    raw.update(changes)
    (folder / "registration.json").write_text(json.dumps(raw))


def test_registration_summary_of_a_hand_written_file(tmp_path):
    write_registration(tmp_path)
    summary = read_registration(tmp_path)
    assert summary.subjects == (4, 7, 9) and summary.workers == 2
    assert summary.median_seconds == 25.0
    rows = summary.error_rows()
    assert [r["key"] for r in rows] == [k for k, *_ in REGISTRATION_ERRORS]
    by_key = {r["key"]: (r["median"], r["max"]) for r in rows}
    assert by_key == {  # the medians and maxima of the lists above, by hand
        "surface_error_median_mm": (0.21, 0.24),
        "surface_error_p95_mm": (0.7, 0.74),
        "vertex_error_median_mm": (2.7, 3.1),
        "vertex_error_p95_mm": (9.7, 12.5),
    }
    rows = {r["key"]: r for r in rows}
    assert rows["vertex_error_p95_mm"]["distance"] == "to the true vertex"
    assert rows["vertex_error_p95_mm"]["statistic"] == "95th percentile"
    # the file itself reads the same as its folder
    same = read_registration(tmp_path / "registration.json")
    assert same.error_rows() == summary.error_rows()


def test_registration_summary_without_registered_scans(tmp_path):
    empty = {k: [] for k, *_ in REGISTRATION_ERRORS}
    write_registration(tmp_path, subjects=[], seconds=[], **empty)
    summary = read_registration(tmp_path)
    assert summary.subjects == () and np.isnan(summary.median_seconds)
    for row in summary.error_rows():
        assert fmt(row["median"], ".1f") == "-" and fmt(row["max"], ".1f") == "-"


def test_registration_summary_refuses_a_broken_file(tmp_path):
    write_registration(tmp_path, vertex_error_p95_mm=[9.0, 12.5])
    with pytest.raises(ValueError, match="vertex_error_p95_mm"):
        read_registration(tmp_path)
    raw = json.loads((tmp_path / "registration.json").read_text())
    del raw["surface_error_median_mm"]
    (tmp_path / "registration.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="surface_error_median_mm"):
        read_registration(tmp_path)


# ------------------------------------------------------------------ mode_motion_leak
def hand_model(mean, components):
    P = len(mean)
    return MorphableModel(
        mean=mean,
        components=np.stack(components),
        std=np.ones(len(components)),
        faces=np.array([[0, 1, 2]]),
        landmarks=np.zeros(0, dtype=np.int64),
        mirror=np.arange(P),
    )


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 60.0, 90.0])
def test_leak_of_a_mode_tilted_towards_a_translation(angle_deg):
    """A mode cos(a) x-translation + sin(a) pure shape leaks exactly |cos(a)|."""
    rng = np.random.default_rng(3)
    mean = rng.normal(0, 40, (40, 3))
    shape = orthogonal_to_motions(mean, rng)
    other = orthogonal_to_motions(mean, rng)
    other -= (other * shape).sum() * shape
    other /= np.linalg.norm(other)
    x_move = np.tile([1.0, 0.0, 0.0], (40, 1)) / np.sqrt(40)
    a = np.radians(angle_deg)
    model = hand_model(mean, [np.cos(a) * x_move + np.sin(a) * shape, other])
    assert mode_motion_leak(model) == pytest.approx(abs(np.cos(a)), abs=1e-12)


def test_a_resizing_mode_leaks_fully():
    rng = np.random.default_rng(4)
    mean = rng.normal(0, 40, (40, 3))
    resize = mean - mean.mean(0)
    model = hand_model(mean, [resize / np.linalg.norm(resize)])
    assert mode_motion_leak(model) > 0.999


# ------------------------------------------------------- registration_in_model_frame
def test_a_scan_moved_by_a_known_similarity_comes_back_to_the_model_frame():
    template = build_template()
    mean = face_shape(Identity(), template)
    rng = np.random.default_rng(5)
    R = Rotation.random(random_state=6).as_matrix()
    s, t = 1.1, np.array([40.0, -20.0, 300.0])
    to_scanner = lambda x: s * x @ R.T + t
    surface = mean + rng.normal(0, 0.3, mean.shape)  # the scan's own vertices
    landmarks = to_scanner(mean[template.landmarks])
    landmarks[[0, 20, 40]] = np.nan  # a jaw landmark and two of the 51: unknown
    scan = RawScan(
        vertices=to_scanner(surface), faces=template.faces, landmarks=landmarks
    )
    registered = mean + rng.normal(0, 1.0, mean.shape)
    view = registration_in_model_frame(
        scan, to_scanner(registered).astype(np.float32), mean, template
    )
    np.testing.assert_allclose(view.scan_vertices, surface, atol=1e-9)
    np.testing.assert_allclose(view.registered, registered, atol=1e-4)  # float32
    lm = view.scan_landmarks
    assert np.isnan(lm[[0, 20, 40]]).all()
    known = np.isfinite(lm).all(axis=1)
    np.testing.assert_allclose(lm[known], mean[template.landmarks][known], atol=1e-9)
    assert view.to_model.scale == pytest.approx(1 / s, rel=1e-12)
    np.testing.assert_allclose(view.to_model.rotation, R.T, atol=1e-12)
    assert view.scan_faces is scan.faces

"""facelib.evaluation.metrics: the 3DFAW-2019 ARMSE protocol against hand-made cases and
a brute-force distance."""

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from facelib.evaluation.metrics import (
    armse,
    armse_against,
    armse_from_files,
    point_to_mesh_distances,
    save_obj,
    scan_target,
)
from facelib.world.identity import face_shape, sample_identities
from facelib.world.template import build_template


@pytest.fixture(scope="module")
def face():
    template = build_template()
    v = face_shape(sample_identities(1, np.random.default_rng(8))[0], template)
    return template, v, v[template.landmarks]


def brute_point_triangle(p, a, b, c):
    """Distance from p to triangle abc: to the plane if the projection falls inside,
    else to the nearest edge."""
    n = np.cross(b - a, c - a)
    n = n / np.linalg.norm(n)
    proj = p - np.dot(p - a, n) * n
    inside = all(
        np.dot(np.cross(y - x, proj - x), n) >= 0 for x, y in ((a, b), (b, c), (c, a))
    )
    if inside:
        return abs(np.dot(p - a, n))

    def seg(x, y):
        t = np.clip(np.dot(p - x, y - x) / np.dot(y - x, y - x), 0, 1)
        return np.linalg.norm(p - (x + t * (y - x)))

    return min(seg(a, b), seg(b, c), seg(c, a))


def test_point_to_triangle_agrees_with_brute_force():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 20, (30, 3))
    f = np.array([rng.choice(30, 3, replace=False) for _ in range(25)])
    pts = rng.normal(0, 25, (40, 3))
    ours = point_to_mesh_distances(pts, v, f)
    brute = np.array([min(brute_point_triangle(p, *v[tri]) for tri in f) for p in pts])
    np.testing.assert_allclose(ours, brute, atol=1e-7)


def test_identical_meshes_score_zero(face):
    template, v, lm = face
    r = armse(v, template.faces, lm, v, template.faces, lm)
    assert r.armse_mm < 1e-6 and r.n_landmarks == 51


def test_similarity_transformed_prediction_scores_zero(face):
    template, v, lm = face
    R = Rotation.random(random_state=3).as_matrix()
    moved = 1.3 * v @ R.T + np.array([40.0, -20.0, 300.0])
    moved_lm = 1.3 * lm @ R.T + np.array([40.0, -20.0, 300.0])
    r = armse(moved, template.faces, moved_lm, v, template.faces, lm)
    assert r.armse_mm < 1e-4
    assert r.transform.scale == pytest.approx(1 / 1.3, rel=1e-6)


def test_normal_offset_distance_and_what_icp_absorbs(face):
    template, v, lm = face
    mesh = trimesh.Trimesh(v, template.faces, process=False)
    delta = 1.0
    fat = v + delta * mesh.vertex_normals
    # the raw distances: vertices offset along their normals by δ lie about δ from the
    # surface
    d = point_to_mesh_distances(fat, v, template.faces)
    inner = (
        np.linalg.norm(v - lm[30], axis=1) < 60
    )  # away from the border and sharp creases
    assert np.median(d[inner]) == pytest.approx(delta, abs=0.05)
    # the full protocol: the ICP's scale absorbs most of a uniform offset
    r = armse(fat, template.faces, fat[template.landmarks], v, template.faces, lm)
    assert r.armse_mm < 0.6 * delta


def test_crop_and_sampling_are_honoured(face):
    template, v, lm = face
    r = armse(v, template.faces, lm, v, template.faces, lm)
    kept = np.flatnonzero(np.linalg.norm(v - lm[30], axis=1) <= 95.0)
    assert np.array_equal(r.pred_vertex_ids, kept[::4])
    r50 = armse(
        v, template.faces, lm, v, template.faces, lm, crop_radius_mm=50.0, every=2
    )
    kept50 = np.flatnonzero(np.linalg.norm(v - lm[30], axis=1) <= 50.0)
    assert np.array_equal(r50.pred_vertex_ids, kept50[::2])


def test_normalised_variant_uses_the_outer_eye_corners(face):
    template, v, lm = face
    noisy = v + np.random.default_rng(1).normal(0, 0.5, v.shape)
    r = armse(noisy, template.faces, lm, v, template.faces, lm)
    iod = np.linalg.norm(lm[36] - lm[45])
    assert r.interocular_mm == pytest.approx(iod)
    assert r.normalized == pytest.approx(100 * r.armse_mm / iod)
    assert 0.2 < r.armse_mm < 0.8


def test_bad_input_is_refused(face):
    template, v, lm = face
    no_nose = lm.copy()
    no_nose[30] = np.nan
    with pytest.raises(ValueError, match="nose tip"):
        armse(v, template.faces, no_nose, v, template.faces, lm)
    bad = v.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        armse(bad, template.faces, lm, v, template.faces, lm)
    with pytest.raises(ValueError, match="no faces"):
        armse(v, np.zeros((0, 3), int), lm, v, template.faces, lm)
    few = np.full_like(lm, np.nan)
    few[[30, 36, 45]] = lm[[30, 36, 45]]
    with pytest.raises(ValueError, match="at least 4"):
        armse(v, template.faces, few, v, template.faces, lm)
    # unknown landmarks (NaN rows) are skipped
    some = lm.copy()
    some[[40, 41, 50]] = np.nan
    assert armse(v, template.faces, some, v, template.faces, lm).n_landmarks == 48


def test_files_in_one_call(face, tmp_path):
    template, v, lm = face
    save_obj(tmp_path / "pred.obj", v, template.faces)
    save_obj(tmp_path / "scan.obj", v, template.faces)
    np.savetxt(tmp_path / "pred.txt", template.landmarks[17:], fmt="%d")  # vertex ids
    np.savetxt(tmp_path / "scan.txt", lm)  # positions
    r = armse_from_files(
        tmp_path / "pred.obj",
        tmp_path / "pred.txt",
        tmp_path / "scan.obj",
        tmp_path / "scan.txt",
    )
    assert r.armse_mm < 1e-4
    with pytest.raises(FileNotFoundError):
        armse_from_files(
            tmp_path / "none.obj",
            tmp_path / "pred.txt",
            tmp_path / "scan.obj",
            tmp_path / "scan.txt",
        )


def test_a_prepared_scan_scores_many_predictions_exactly_as_armse(face):
    """One scan_target for several predictions: every field as armse's, bit for bit;
    the prepared scan is its crop; bad scans are refused when prepared."""
    template, v, lm = face
    scan = v + np.random.default_rng(1).normal(0, 0.5, v.shape)
    target = scan_target(scan, template.faces, lm)
    assert len(target.vertices) < len(scan)  # cropped round the nose tip
    for seed in range(3):
        pred = v + np.random.default_rng(10 + seed).normal(0, 1.0, v.shape)
        once = armse(
            pred, template.faces, pred[template.landmarks], scan, template.faces, lm
        )
        many = armse_against(pred, template.faces, pred[template.landmarks], target)
        assert many.armse_mm == once.armse_mm
        assert many.normalized == once.normalized
        np.testing.assert_array_equal(many.pred_distances, once.pred_distances)
        np.testing.assert_array_equal(many.pred_vertex_ids, once.pred_vertex_ids)
        np.testing.assert_array_equal(many.transform.apply(v), once.transform.apply(v))
    with pytest.raises(ValueError, match="the scan"):
        scan_target(scan * np.nan, template.faces, lm)
    with pytest.raises(ValueError, match="crop_radius_mm"):
        scan_target(scan, template.faces, lm, crop_radius_mm=0.0)

"""facelib.world.scans: the simulated raw scans (files: tests/data/test_scan.py)."""

import numpy as np
import pytest
import trimesh

from facelib.world.identity import face_shape, sample_identities
from facelib.world.scans import ScanSettings, simulate_scan
from facelib.world.template import build_template


@pytest.fixture(scope="module")
def world():
    template = build_template()
    identity = sample_identities(1, np.random.default_rng(5))[0]
    scan = simulate_scan(identity, template, np.random.default_rng(6))
    return template, identity, scan


def test_scan_is_another_topology_with_noise_holes_and_a_pose(world):
    template, identity, scan = world
    assert (
        15000 < len(scan.vertices) < 21000 and len(scan.vertices) != template.n_points
    )
    # the pose is rigid
    R = scan.pose.rotation
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert scan.pose.scale == 1.0 and np.linalg.det(R) == pytest.approx(1.0)
    # back in the model frame, the scan lies on the true surface up to the noise (σ =
    # 0.4 mm)
    inverse = np.linalg.inv(R)
    in_model = (scan.vertices - scan.pose.translation) @ inverse.T
    truth = trimesh.Trimesh(
        face_shape(identity, template), template.faces, process=False
    )
    inside = (
        (np.abs(in_model[:, 0]) < 40) & (in_model[:, 1] > -50) & (in_model[:, 1] < 60)
    )  # well inside the face region
    _, dist, _ = trimesh.proximity.closest_point(truth, in_model[inside][::10])
    assert 0.2 < np.sqrt((dist**2).mean()) < 0.6
    # more of the head than the template: beyond the hairline and under the chin
    assert (
        in_model[:, 1].min() < truth.vertices[:, 1].min() - 15
        and in_model[:, 1].max() > truth.vertices[:, 1].max() + 15
    )
    # holes: the triangulation of 20,000 points has about 40,000 triangles; some are
    # gone
    assert len(scan.faces) < 2 * len(scan.vertices) - 50
    # landmarks: the true ones, posed, with annotation noise
    true_lm = scan.pose.apply(face_shape(identity, template)[template.landmarks])
    err = np.linalg.norm(scan.landmarks - true_lm, axis=1)
    assert 0.5 < err.mean() < 2.5


def test_same_seed_same_scan(world):
    template, identity, scan = world
    again = simulate_scan(identity, template, np.random.default_rng(6))
    assert np.array_equal(again.vertices, scan.vertices) and np.array_equal(
        again.faces, scan.faces
    )


def test_settings_change_the_scan(world):
    template, identity, _ = world
    few = simulate_scan(
        identity,
        template,
        np.random.default_rng(1),
        ScanSettings(n_points=5000, n_holes=0),
    )
    assert len(few.vertices) == 5000  # no holes: every point is used

"""facelib.world.registration on a simulated raw scan, measured against the known
identity."""

import numpy as np
import pytest
import trimesh

from facelib.world.identity import Identity, face_shape, sample_identities
from facelib.world.registration import register
from facelib.world.scans import simulate_scan
from facelib.world.template import build_template


@pytest.fixture(scope="module")
def registered():
    template = build_template()
    identity = sample_identities(1, np.random.default_rng(21))[0]
    scan = simulate_scan(identity, template, np.random.default_rng(22))
    truth = scan.pose.apply(face_shape(identity, template))
    start = face_shape(Identity(), template)
    return template, scan, truth, start, register(scan, template, start)


def test_registration_fits_the_true_surface(registered):
    template, scan, truth, start, reg = registered
    true_mesh = trimesh.Trimesh(truth, template.faces, process=False)
    _, dist, _ = trimesh.proximity.closest_point(true_mesh, reg.vertices)
    c = template.canonical
    inner = (
        (np.abs(c[:, 0]) < 50) & (c[:, 1] > -50) & (c[:, 1] < 60)
    )  # the face inside the border
    assert np.median(dist) < 0.3 and np.percentile(dist[inner], 95) < 1.0
    # and it improves the correspondence over the landmark alignment alone
    before = np.linalg.norm(reg.alignment.apply(start) - truth, axis=1)
    after = np.linalg.norm(reg.vertices - truth, axis=1)
    assert np.median(after) < 0.8 * np.median(before)
    # in the middle of the face, where landmarks pin the correspondence, vertices land
    # within ~1 mm
    assert np.median(after[inner]) < 1.5


def test_registration_needs_landmarks(registered):
    template, scan, _, start, _ = registered
    blind = type(scan)(
        vertices=scan.vertices, faces=scan.faces, landmarks=np.full((68, 3), np.nan)
    )
    with pytest.raises(ValueError, match="known landmarks"):
        register(blind, template, start)
    with pytest.raises(ValueError, match="template topology"):
        register(scan, template, start[:-1])

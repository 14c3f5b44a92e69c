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


def test_nricp_agrees_with_trimesh_nricp_amberg(registered):
    """Our non-rigid ICP solves the same problems as trimesh's implementation of
    Amberg et al. (an independent reference): the same vertices to a small fraction
    of a millimetre (trimesh keeps its right-hand side in float32; its distance
    threshold, in units of the template's size, never bites here, so ours is set
    as loose)."""
    from trimesh.registration import nricp_amberg

    from facelib.data.template import IBUG51
    from facelib.world.nricp import NricpStep, nricp
    from facelib.world.registration import RegistrationSettings

    template, scan, truth, start, reg = registered
    steps = RegistrationSettings().steps[:2]
    landmarks = scan.landmarks[IBUG51]
    known = np.isfinite(landmarks).all(axis=1)
    ids = template.landmarks51[known]
    source = trimesh.Trimesh(reg.alignment.apply(start), template.faces, process=False)
    ours = nricp(
        source,
        scan.mesh(),
        ids,
        landmarks[known],
        tuple(NricpStep(*s) for s in steps),
        distance_threshold_mm=1e9,
    )
    theirs = nricp_amberg(
        source.copy(),
        scan.mesh(),
        source_landmarks=ids,
        target_positions=landmarks[known],
        steps=[list(s) for s in steps],
        distance_threshold=1e9,
    )
    gap = np.linalg.norm(ours - theirs, axis=1)
    assert np.median(gap) < 0.01 and gap.max() < 0.3, (np.median(gap), gap.max())
    moved = np.linalg.norm(ours - source.vertices, axis=1)
    assert np.median(moved) > 0.3  # the registration really moved the template

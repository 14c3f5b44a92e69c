"""facelib.evaluation.identity against hand-derived answers and an independent slow
reference: similarity alignment by scipy's orthogonal Procrustes with Umeyama's scale,
written out here; faces made from the 3DMM's first modes (exact for k at or beyond the
last mode used); RMS by a plain loop."""

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from facelib.data.scan import RawScan
from facelib.data.template import IBUG51
from facelib.evaluation.identity import (
    band_rms,
    identity_reading,
    leading_mode_scores,
    mode_bands,
    mode_counts,
    network_readings,
    protocol_region,
    readings_by_row,
    shape_coefficients,
)


def reference_deviation(shape, mean):
    """Slow reference: the best similarity of ``shape`` onto ``mean`` by scipy's
    orthogonal Procrustes on centred points (a reflection is refused by flipping the
    last singular direction) and the least-squares scale; minus the mean."""
    a, b = shape - shape.mean(0), mean - mean.mean(0)
    R, _ = orthogonal_procrustes(a, b)  # a @ R ~ b
    if np.linalg.det(R) < 0:
        u, _, vt = np.linalg.svd(a.T @ b)
        u[:, -1] *= -1
        R = u @ vt
    s = np.sum((a @ R) * b) / np.sum(a * a)
    return (s * a @ R + mean.mean(0) - mean).ravel()


def face_world(seed=0, n=200):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=(n, 3)) * [60.0, 80.0, 30.0]
    region = np.ones(n, bool)
    region[:20] = False  # vertices outside the crop: never compared
    return rng, mean, region


def test_identity_reading_by_hand():
    rng, mean, region = face_world()
    d = rng.normal(size=mean.shape)
    true = mean + d
    R = Rotation.from_euler("xyz", [5, -8, 3], degrees=True).as_matrix()
    moved = 1.1 * true @ R.T + [4.0, -2.0, 30.0]  # the person, larger and turned
    junk = mean.copy()
    junk[:20] += 50.0  # moves only vertices outside the region
    got = identity_reading(np.stack([true, moved, mean, junk]), true, mean, region)
    np.testing.assert_allclose(got.cosine, [1, 1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(got.gain, [1, 1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(got.error, [0, 0, 1, 1], atol=1e-9)


def test_identity_reading_against_a_slow_reference():
    rng, mean, region = face_world(1)
    true = mean + rng.normal(size=(5, *mean.shape)) * 2.0
    pred = mean + rng.normal(size=(5, *mean.shape)) * 2.0 + 0.5 * (true - mean)
    got = identity_reading(pred, true, mean, region)
    for n in range(5):
        p = reference_deviation(pred[n][region], mean[region])
        d = reference_deviation(true[n][region], mean[region])
        cos = p @ d / np.linalg.norm(p) / np.linalg.norm(d)
        np.testing.assert_allclose(got.cosine[n], cos, rtol=1e-9)
        np.testing.assert_allclose(got.gain[n], p @ d / (d @ d), rtol=1e-9)
        err = np.linalg.norm(p - d) / np.linalg.norm(d)
        np.testing.assert_allclose(got.error[n], err, rtol=1e-9)
    assert np.all(got.cosine > 0.1)  # the predictions carry half of each deviation


def test_identity_reading_of_the_mean_person_and_bad_input():
    rng, mean, region = face_world(2)
    got = identity_reading(mean + rng.normal(size=mean.shape), mean, mean, region)
    assert got.cosine[0] == 0.0 and got.gain[0] == 0.0 and np.isnan(got.error[0])
    with pytest.raises(ValueError, match="expected predicted faces"):
        identity_reading(mean[None, :5], mean, mean, region)
    with pytest.raises(ValueError, match="3 vertices or more"):
        identity_reading(mean, mean, mean, np.zeros(len(mean), bool))
    with pytest.raises(ValueError, match="finite"):
        identity_reading(mean + np.nan, mean, mean, region)


def test_readings_by_row_and_protocol_region(data):
    model, template = data.morphable_model, data.template
    mean = model.mean
    region = protocol_region(mean, template.landmarks)
    nose = mean[template.landmarks[IBUG51][13]]
    far = np.linalg.norm(mean - nose, axis=1)
    np.testing.assert_array_equal(region, far <= 95.0)
    alpha = np.zeros(model.n_modes)
    alpha[0] = 3.0
    face = model.shape(torch.from_numpy(alpha)).numpy()
    shapes = [{"right": face, "mean": mean}, {"right": face, "mean": mean}]
    got = readings_by_row(shapes, face, mean, region, ("right", "mean"))
    np.testing.assert_allclose(got["right"].error, [0, 0], atol=1e-9)
    np.testing.assert_allclose(got["mean"].error, [1, 1], atol=1e-9)


def test_shape_coefficients_recover_a_model_face(data):
    model = data.morphable_model
    alpha = np.linspace(-2, 2, model.n_modes)
    shape = model.shape(torch.from_numpy(alpha)).numpy()
    np.testing.assert_allclose(shape_coefficients(model, shape), alpha, atol=1e-8)


def test_leading_mode_scores_of_a_face_made_from_the_first_modes(data):
    """A scan that is the model's face from its first 3 coefficients: cut at 3 or more
    modes the face is the scan itself (0 mm); cut at 0 it is the mean face, at 1 it is
    in between; the order of the counts is kept."""
    model, template = data.morphable_model, data.template
    alpha = np.zeros(model.n_modes)
    alpha[:3] = (3.0, -3.0, 3.0)
    face = model.shape(torch.from_numpy(alpha)).numpy()
    scan = RawScan(face, template.faces, face[template.landmarks])
    got = leading_mode_scores(
        model, alpha, (model.n_modes, 3, 0, 1), template.faces, template.landmarks, scan
    )
    assert list(got) == [model.n_modes, 3, 0, 1]
    assert got[3] < 1e-6 and got[model.n_modes] < 1e-6
    assert got[0] > 0.05 and got[1] > 0.0
    with pytest.raises(ValueError, match="mode counts"):
        leading_mode_scores(
            model, alpha, (model.n_modes + 1,), template.faces, template.landmarks, scan
        )
    with pytest.raises(ValueError, match="expected coefficients"):
        leading_mode_scores(
            model, alpha[:2], (1,), template.faces, template.landmarks, scan
        )


def test_band_rms_by_a_loop():
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(4, 10))
    bands = ((1, 3), (4, 10), (5, 5))
    want = []
    for first, last in bands:
        values = [alpha[n, k] for n in range(4) for k in range(first - 1, last)]
        want.append(float(np.sqrt(sum(v * v for v in values) / len(values))))
    np.testing.assert_allclose(band_rms(alpha, bands), want, rtol=1e-12)
    with pytest.raises(ValueError, match="a band of modes"):
        band_rms(alpha, ((0, 3),))
    with pytest.raises(ValueError, match="a band of modes"):
        band_rms(alpha, ((2, 11),))


def test_mode_counts_and_bands_by_hand():
    assert mode_counts(71) == (0, 5, 10, 20, 40, 71)
    assert mode_counts(22) == (0, 5, 10, 20, 22)
    assert mode_counts(5) == (0, 5)
    assert mode_bands(71) == ((1, 10), (11, 40), (41, 71))
    assert mode_bands(22) == ((1, 10), (11, 22))
    assert mode_bands(8) == ((1, 8),)


class FixedShapes(torch.nn.Module):
    """Answers the coefficients it holds, one row per image, in order."""

    def __init__(self, alpha: np.ndarray):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.as_tensor(alpha), requires_grad=False)
        self.seen = 0

    def forward(self, images):
        rows = self.alpha[self.seen : self.seen + len(images)]
        self.seen += len(images)
        return type("Prediction", (), {"alpha": rows})()


def test_network_readings_in_batches(data):
    """Three answers in batches of 2: the person's own face, the mean face and another
    face; read against the right faces and against the wrong ones."""
    model, template = data.morphable_model, data.template
    rng = np.random.default_rng(5)
    alpha = rng.normal(size=(3, model.n_modes))
    alpha[1] = 0.0
    faces = model.shape(torch.from_numpy(alpha)).numpy()
    region = protocol_region(model.mean, template.landmarks)
    images = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    got = network_readings(
        model,
        FixedShapes(alpha),
        images,
        {"right": faces, "rolled": faces[[2, 0, 1]]},
        region,
        batch=2,
    )
    np.testing.assert_allclose(got["right"].error[[0, 2]], [0, 0], atol=1e-9)
    assert got["right"].cosine[1] == 0.0  # the mean face carries nothing
    assert got["rolled"].error[0] > 0.5  # another face: far from this one
    np.testing.assert_allclose(got["rolled"].error[1], 1.0, atol=1e-9)  # the mean

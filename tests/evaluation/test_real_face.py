"""facelib.evaluation.real_face against hand-computed answers: a landmark error worked
out by hand, a scan moved by a known rigid motion and brought back, a textured square
whose photograph is known pixel by pixel, the 3DMM's mean face (its own projection),
and stand-in networks whose predictions are known (their landmarks projected here)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from facelib.data.scan import RawScan
from facelib.data.template import IBUG51
from facelib.evaluation.real_face import (
    RealFacePhotographs,
    RealFaceSettings,
    average_landmarks,
    data_framing,
    landmark_check,
    landmark_nme,
    photograph_in_data_framing,
    photograph_real_face,
    pose_like_mean,
    predict_real_face,
    reconstruct_real_face,
    score_real_face,
    span_check,
)
from facelib.evaluation.table1 import ROWS
from facelib.geometry.camera import intrinsics_from_fov
from facelib.real.network_crop import crop_by_network
from facelib.real.scan import TexturedScan
from facelib.world.scenes import CameraSettings

BACKGROUND = round(0.45 * 255)  # 115


def rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of quaternions (..., 4), real part first."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    # scipy wants the real part last
    return (
        Rotation.from_quat(q.reshape(-1, 4)[:, [1, 2, 3, 0]])
        .as_matrix()
        .reshape(*q.shape[:-1], 3, 3)
    )


def pinhole(points, K, q, t) -> np.ndarray:
    """Pixels (..., P, 2) of model points (..., P, 3): K (R(q) X + t), over depth."""
    cam = (
        np.einsum("...ij,...pj->...pi", rotation(q), points)
        + np.asarray(t)[..., None, :]
    )
    pix = np.einsum("...ij,...pj->...pi", np.asarray(K, np.float64), cam)
    return pix[..., :2] / pix[..., 2:]


# --- landmark_nme --------------------------------------------------------------------


def test_landmark_nme_by_hand():
    """Outer eye corners 100 px apart, every prediction 5 px off (3, 4): 0.05."""
    rng = np.random.default_rng(0)
    annotated = rng.uniform(0, 200, (68, 2))
    annotated[36], annotated[45] = [40.0, 80.0], [140.0, 80.0]
    predicted = annotated + [3.0, 4.0]
    assert landmark_nme(predicted, annotated) == pytest.approx(0.05)
    # the annotation sets the scale: scaling both changes nothing
    assert landmark_nme(2 * predicted, 2 * annotated) == pytest.approx(0.05)
    # half the points exact: half the error
    half = predicted.copy()
    half[::2] = annotated[::2]
    assert landmark_nme(half, annotated) == pytest.approx(0.025)
    assert landmark_nme(annotated, annotated) == 0.0


# --- pose_like_mean ------------------------------------------------------------------


def test_pose_like_mean_undoes_a_rigid_motion():
    """A scan that is the mean shape turned and moved (landmarks included) comes back
    onto the mean: vertices and all 68 landmarks, even with unknown landmarks."""
    rng = np.random.default_rng(3)
    mean = rng.normal(0, 50, (300, 3))
    ids = rng.choice(300, 68, replace=False)
    R = Rotation.from_euler("yxz", [35, -20, 10], degrees=True).as_matrix()
    t = np.array([12.0, -40.0, 300.0])
    moved = lambda x: x @ R.T + t
    landmarks = moved(mean[ids])
    landmarks[[20, 50]] = np.nan  # two of the 51 unknown
    scan = RawScan(moved(mean), np.array([[0, 1, 2]]), landmarks)
    posed = pose_like_mean(scan, mean, ids)
    np.testing.assert_allclose(posed.vertices, mean, atol=1e-6)
    known = np.isfinite(landmarks).all(1)
    np.testing.assert_allclose(posed.landmarks[known], mean[ids][known], atol=1e-6)
    assert np.isnan(posed.landmarks[~known]).all()
    np.testing.assert_array_equal(posed.faces, scan.faces)


def test_pose_like_mean_does_not_scale_and_uses_the_51_landmarks():
    """A scan twice the mean's size keeps its size (a rigid motion); the jaw line
    (landmarks 0-16) does not pull the fit."""
    rng = np.random.default_rng(4)
    mean = rng.normal(0, 50, (200, 3))
    ids = rng.choice(200, 68, replace=False)
    landmarks = 2.0 * mean[ids]
    landmarks[:17] += 500.0  # a jaw line far off: ignored
    scan = RawScan(2.0 * mean, np.array([[0, 1, 2]]), landmarks)
    posed = pose_like_mean(scan, mean, ids)
    d = lambda x: np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.testing.assert_allclose(d(posed.vertices), d(2.0 * mean), atol=1e-6)
    # the best rigid fit of 2 X onto X: no turn, the 51 landmarks' centroids matched
    c = mean[ids][IBUG51].mean(0)
    np.testing.assert_allclose(posed.vertices, 2.0 * mean - c, atol=1e-6)


# --- photograph_real_face ------------------------------------------------------------


def textured_square(half=50.0) -> TexturedScan:
    """A square facing the camera (towards -z), 2 * half mm wide, centred on the model
    origin. Texture: red on the subject's right (x < 0, u < 0.5), blue on the left;
    green added on the top half (y < 0; v up, so texture rows 0..31)."""
    V = np.array(
        [[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]]
    )
    uv = np.stack([(V[:, 0] + half) / (2 * half), (half - V[:, 1]) / (2 * half)], 1)
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:, :32, 0] = 150
    texture[:, 32:, 2] = 150
    texture[:32, :, 1] = 150
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    return TexturedScan(RawScan(V, faces, np.full((68, 3), np.nan)), uv, texture)


def test_photographs_of_a_textured_square():
    S, fov = 32, 30.0
    lights = RealFaceSettings().lights[:2]
    settings = RealFaceSettings(
        yaws_deg=(-40.0, 0.0, 40.0), distances_mm=(400.0, 800.0), lights=lights
    )
    photos = photograph_real_face(textured_square(), S, fov, settings)
    images = photos.images
    assert images.shape == (4, 3, 3, S, S) and images.dtype == torch.uint8
    assert photos.conditions == [
        "light 1, 400 mm",
        "light 1, 800 mm",
        "light 2, 400 mm",
        "light 2, 800 mm",
    ]
    assert photos.distances_mm == (400.0, 800.0, 400.0, 800.0)
    img = images.numpy().astype(int)
    # the corners are background
    for y, x in [(0, 0), (0, S - 1), (S - 1, 0), (S - 1, S - 1)]:
        assert (img[..., y, x] == BACKGROUND).all()

    # frontal, 400 mm: the square spans f * 50 / 400 = 7.5 px round the centre 15.5
    f = 0.5 * S / np.tan(np.radians(fov / 2))
    half_px = f * 50.0 / 400.0
    front = img[0, 1]  # (3, S, S)
    ys, xs = np.nonzero((front != BACKGROUND).any(0))
    assert xs.min() == pytest.approx(15.5 - half_px, abs=1.0)
    assert xs.max() == pytest.approx(15.5 + half_px, abs=1.0)
    assert ys.min() == pytest.approx(15.5 - half_px, abs=1.0)
    # the subject's right (red) on the image's left, the top (green) at the top
    tl, tr, bl, br = (
        front[:, 11, 11],
        front[:, 11, 20],
        front[:, 20, 11],
        front[:, 20, 20],
    )
    assert tl[0] > 50 and tl[1] > 50 and tl[2] == 0
    assert tr[0] == 0 and tr[1] > 50 and tr[2] > 50
    assert bl[0] > 50 and bl[1] == 0 and bl[2] == 0
    assert br[0] == 0 and br[1] == 0 and br[2] > 50

    # twice as far: a quarter of the area
    area = lambda im: (im != BACKGROUND).any(0).sum()
    assert area(img[1, 1]) == pytest.approx(area(img[0, 1]) / 4, rel=0.35)
    # turned 40 degrees either way: narrower than frontal, and not the same picture
    assert area(img[0, 0]) < area(img[0, 1]) and area(img[0, 2]) < area(img[0, 1])
    assert not np.array_equal(img[0, 0], img[0, 2])
    # the second light (oblique) lights the square facing the camera less
    assert front[0, 11, 11] > img[2, 1, 0, 11, 11]
    for a in range(4):
        for b in range(a):
            assert not np.array_equal(img[a], img[b])


def test_photograph_of_james_posed_like_the_mean(james, data):
    """The real scan, posed like the mean face: the frontal photograph shows a head in
    the middle of the frame on the grey background."""
    posed = pose_like_mean(
        james.scan, data.morphable_model.mean, data.template.landmarks
    )
    face = TexturedScan(posed, james.uv, james.texture)
    settings = RealFaceSettings(
        distances_mm=(570.0,), lights=RealFaceSettings().lights[:1]
    )
    photos = photograph_real_face(face, 32, 30.0, settings)
    assert photos.images.shape == (1, 3, 3, 32, 32)
    img = photos.images[0].numpy().astype(int)
    assert (img[:, :, 0, 0] == BACKGROUND).all()
    head = (img[1] != BACKGROUND).any(0)
    ys, xs = np.nonzero(head)
    assert 0.1 < head.mean() < 0.9
    assert xs.mean() == pytest.approx(15.5, abs=3.0)
    assert head[16, 16] and head[12:20, 12:20].all()
    assert not np.array_equal(img[0], img[2])


def test_photograph_in_data_framing_uses_the_data_sets_phone(james, data):
    """The same photographs as posing and photographing by hand at the data set's image
    size, with the field of view whose focal length is the data set's K[0, 0]."""
    settings = RealFaceSettings(
        distances_mm=(570.0,), lights=RealFaceSettings().lights[:1]
    )
    photos, posed = photograph_in_data_framing(james, data, settings)
    by_hand = pose_like_mean(
        james.scan, data.morphable_model.mean, data.template.landmarks
    )
    np.testing.assert_array_equal(posed.vertices, by_hand.vertices)
    focal = float(data.K[0, 0, 0, 0])
    S = data.image_size
    fov = 2 * math.degrees(math.atan2(S / 2, focal))
    assert 0.5 * S / math.tan(math.radians(fov / 2)) == pytest.approx(focal)
    expected = photograph_real_face(
        TexturedScan(by_hand, james.uv, james.texture), S, fov, settings
    )
    # the same photographs, to a grey level (atan2 against atan of a ratio)
    diff = (photos.images.int() - expected.images.int()).abs()
    assert diff.max() <= 1 and diff.float().mean() < 0.01


# --- span_check ----------------------------------------------------------------------


def test_the_mean_face_is_its_own_projection(data):
    """registered = the mean face, moved by a similarity: aligned back onto the mean,
    its projection is the mean (coefficients 0), so it scores as the mean does."""
    model = data.morphable_model
    subject = int(data.capture_subjects[0])
    scan = data.scan(subject)
    R = Rotation.from_euler("yxz", [20, 10, -5], degrees=True).as_matrix()
    registered = 1.3 * model.mean @ R.T + [5.0, -30.0, 200.0]
    check = span_check(scan, registered, data)
    np.testing.assert_allclose(check.coefficients, 0.0, atol=1e-6)
    assert check.coefficients.shape == (model.n_modes,)
    assert check.projection == pytest.approx(check.mean, rel=1e-6)
    assert check.reduction == pytest.approx(0.0, abs=1e-6)
    assert 0.5 < check.mean < 10.0


def test_span_check_of_the_true_face(data):
    """The capture subject's own face: closer to its scan than the 3DMM's best
    approximation of it, which is closer than the mean face."""
    subject = int(data.capture_subjects[0])
    true = np.asarray(data.shapes[subject], np.float64)
    check = span_check(data.scan(subject), true, data)
    assert check.registration < check.projection < check.mean
    assert 0.0 < check.reduction < 1.0


# --- stand-in networks ---------------------------------------------------------------


class Fixed(torch.nn.Module):
    """A network that predicts ``alpha`` (K,) and the pose ``q``, ``t`` for every input
    and remembers its inputs."""

    def __init__(self, alpha, q=(1.0, 0.0, 0.0, 0.0), t=(0.0, 0.0, 500.0)):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.alpha = torch.as_tensor(alpha, dtype=torch.float32)
        self.q = torch.as_tensor(q, dtype=torch.float32)
        self.t = torch.as_tensor(t, dtype=torch.float32)
        self.inputs = []

    def forward(self, x, K=None):
        self.inputs.append(x.clone())
        B = len(x)
        return SimpleNamespace(
            alpha=self.alpha.expand(B, -1),
            q=self.q.expand(B, 1, 4),
            t=self.t.expand(B, 1, 3),
        )


def test_landmark_check_projects_the_predicted_face(data):
    model, template = data.morphable_model, data.template
    S = data.image_size
    alpha = np.zeros(model.n_modes)
    alpha[0] = 1.5
    q = Rotation.from_euler("y", 15, degrees=True).as_quat()[[3, 0, 1, 2]]
    t = (3.0, -2.0, 520.0)
    network = Fixed(alpha, q, t)
    K = intrinsics_from_fov(30.0, S, S)
    image = np.random.default_rng(0).integers(0, 256, (S, S, 3), dtype=np.uint8)
    shape = model.shape(torch.from_numpy(alpha)).numpy()
    expected = pinhole(shape[template.landmarks], K.numpy(), q, t)
    annotated = expected + [1.0, -2.0]
    check = landmark_check(image, annotated, network, data, K)
    np.testing.assert_allclose(check.predicted, expected, atol=1e-3)
    np.testing.assert_array_equal(check.annotated, annotated)
    interocular = np.linalg.norm(annotated[36] - annotated[45])
    assert check.nme == pytest.approx(np.sqrt(5) / interocular, rel=1e-3)
    # the network saw the image, channels first, as uint8
    (seen,) = network.inputs
    assert seen.shape == (1, 3, S, S) and seen.dtype == torch.uint8
    np.testing.assert_array_equal(seen[0].permute(1, 2, 0).numpy(), image)


def test_average_landmarks_by_hand(data):
    subjects = data.subjects("train")
    K, q, t = (np.asarray(data.array(n)[subjects], np.float64) for n in ("K", "q", "t"))
    X = np.asarray(data.shapes, np.float64)[subjects][:, None, data.template.landmarks]
    uv = pinhole(X, K, q, t)  # (n, V, 68, 2)
    R = rotation(q)
    yaw = np.degrees(np.arctan2(-R[..., 2, 0], R[..., 2, 2]))
    near = np.abs(yaw) < 20.0
    assert near.any()
    got = average_landmarks(data, subjects)
    assert got.shape == (68, 2)
    np.testing.assert_allclose(got, uv[near].mean(0), atol=1e-3)


def test_reconstruct_real_face_with_networks_that_know_the_face(data):
    """Networks that always answer the mean face, scored against the mean face's own
    surface: every row of Table 1, every condition, scores (about) 0 mm; every frame
    went to the networks."""
    model, template = data.morphable_model, data.template
    S = data.image_size
    scan = RawScan(model.mean, template.faces, model.mean[template.landmarks])
    zeros = np.zeros(model.n_modes)
    networks = {name: Fixed(zeros) for name in ("SV", "MV Add", "MV Concat")}
    networks["MV Shape-Concat"] = Fixed(zeros)
    frames = torch.randint(0, 256, (2, 3, 3, S, S), dtype=torch.uint8)
    photos = RealFacePhotographs(frames, ["a", "b"])
    scores = reconstruct_real_face(photos, scan, data, networks, cropped_by=None)
    assert list(scores) == list(ROWS)
    for row, values in scores.items():
        assert values.shape == (2,), row
        np.testing.assert_allclose(values, 0.0, atol=1e-6, err_msg=row)
    seen = torch.cat(networks["SV"].inputs)
    assert seen.shape == (6, 3, S, S)
    torch.testing.assert_close(seen, frames.reshape(6, 3, S, S))
    assert networks["MV Concat"].inputs[0].shape == (1, 3, 3, S, S)


def test_the_photographs_are_cropped_by_the_named_network(data):
    """With ``cropped_by``, the rows see the crops that network's landmarks make
    (facelib.real.network_crop, tested on its own), with the world's framing; an
    unknown name is refused."""
    model, template = data.morphable_model, data.template
    S = data.image_size
    zeros = np.zeros(model.n_modes)
    finder = Fixed(zeros, t=(0.0, 0.0, 900.0))
    networks = {name: Fixed(zeros) for name in ("MV Add", "MV Concat")}
    networks["MV Shape-Concat"] = Fixed(zeros)
    networks["SV"] = finder
    finder.K_default = intrinsics_from_fov(30.0, S, S)
    finder.image_size = S
    frames = torch.randint(0, 256, (1, 3, 3, S, S), dtype=torch.uint8)
    predict_real_face(RealFacePhotographs(frames, ["a"]), data, networks)
    want = crop_by_network(
        frames[0],
        finder,
        model,
        template.landmarks,
        data_framing(data),
    ).images
    torch.testing.assert_close(networks["MV Concat"].inputs[0][0], want)
    assert not torch.equal(want, frames[0])
    with pytest.raises(ValueError, match="cropped_by='Sv'"):
        predict_real_face(
            RealFacePhotographs(frames, ["a"]), data, networks, cropped_by="Sv"
        )


def test_data_framing_is_the_worlds(data):
    """Measured on the data set's photographs, the framing is the one the world crops
    them with (its settings; the detector's jitter averages out in the median)."""
    got = data_framing(data)
    want = CameraSettings(image_size=data.image_size)
    assert abs(got.margin - want.crop_margin) < 0.1
    np.testing.assert_allclose(got.shift, want.crop_shift, atol=0.03)


def test_score_real_face_is_the_same_in_two_processes(data):
    """Each condition's rows scored against the scan: the mean face against the mean
    face's own surface is 0 mm, a face 10 % larger in depth is not; two worker
    processes give the same numbers as one."""
    model, template = data.morphable_model, data.template
    scan = RawScan(model.mean, template.faces, model.mean[template.landmarks])
    deep = model.mean * np.array([1.0, 1.0, 1.1])
    shapes = [
        {row: model.mean for row in ROWS},
        {row: deep if row == "MV Concat" else model.mean for row in ROWS},
    ]
    one = score_real_face(shapes, scan, data)
    two = score_real_face(shapes, scan, data, workers=2)
    assert list(one) == list(ROWS)
    for row in ROWS:
        np.testing.assert_array_equal(one[row], two[row])
        assert one[row][0] < 1e-6, row
    assert one["MV Concat"][1] > 0.1
    assert one["SV Frontal"][1] < 1e-6

"""facelib.real.realism: real photographs cropped with a known framing (their landmarks
end up where the framing puts them), the detection rate on images with and without a
face, and our own photographs' framing measured on the tiny data set (landmarks
projected here by hand)."""

import numpy as np
import pytest

import facelib.real.realism as realism
from facelib.data.dataset import load_dataset
from facelib.real.assets import asset_path
from facelib.real.detector import Framing, crop_image, detect_faces, landmark_box
from facelib.real.photos import ANNOTATED, load_real_photos
from facelib.real.realism import detection_rate, our_framing, real_crops

SIZE = 64


@pytest.fixture(scope="module")
def have_photos():
    try:
        for name in ANNOTATED:
            asset_path(f"{name}.pts")
    except FileNotFoundError as err:
        pytest.skip(f"real photographs are not available: {err}")


@pytest.fixture(scope="module")
def crops(have_photos):
    """Boxes doubled, centred: the annotated faces' landmark box fills half the crop."""
    return real_crops(Framing(2.0, (0.0, 0.0)), Framing(1.6, (0.0, 0.0)), SIZE)


def test_every_photograph_is_cropped(crops):
    assert [c.name for c in crops] == [*ANNOTATED, "astronaut"]
    assert [c.box_from for c in crops] == ["landmarks"] * 3 + ["detector"]
    for c in crops:
        assert c.image.shape == (SIZE, SIZE, 3) and c.image.dtype == np.uint8
        assert c.image.std() > 10, f"{c.name}'s crop is nearly uniform"
    assert crops[-1].landmarks is None


def test_annotated_landmarks_fill_half_the_crop_at_its_centre(crops):
    """A margin of 2 round the landmark box: in the crop, the landmarks' box is half
    the crop wide and centred on the crop's centre ((S - 1) / 2)."""
    for c in crops[:3]:
        lm = c.landmarks
        assert lm.shape == (68, 2)
        assert (lm > -0.5).all() and (lm < SIZE - 0.5).all(), c.name
        x0, y0, side = landmark_box(lm)
        assert side == pytest.approx(SIZE / 2, rel=0.1), c.name
        centre = np.array([x0 + side / 2, y0 + side / 2])
        np.testing.assert_allclose(centre, (SIZE - 1) / 2, atol=1.0, err_msg=c.name)
        # the subject's right eye on the crop's left, the chin below the eyes
        assert lm[36, 0] < lm[45, 0] and lm[8, 1] > lm[[36, 45], 1].max(), c.name


def test_the_landmarks_follow_the_photograph_into_the_crop(crops):
    """Each landmark scaled about the landmark box's centre by SIZE / (2 side) and
    moved to the crop's centre: computed here from the photograph's own landmarks."""
    photos = {p.name: p for p in load_real_photos()}
    for c in crops[:3]:
        lm = photos[c.name].landmarks
        lo, hi = lm.min(0), lm.max(0)
        side = (hi - lo).max()
        expected = (lm - (lo + hi) / 2) * SIZE / (2 * side) + (SIZE - 1) / 2
        # half an image pixel of slack (see test_detector's Framing.crop xfail)
        np.testing.assert_allclose(
            c.landmarks, expected, atol=0.5 * SIZE / (2 * side) + 1e-9, err_msg=c.name
        )


def test_the_unannotated_photograph_uses_the_detector_and_its_framing(crops):
    astronaut = load_real_photos()[-1].image
    box = detect_faces(astronaut)[0]
    expected = crop_image(astronaut, Framing(1.6, (0.0, 0.0)).crop(box, SIZE))
    np.testing.assert_array_equal(crops[-1].image, expected)


def test_a_photograph_without_landmarks_or_face_is_skipped(have_photos, monkeypatch):
    monkeypatch.setattr(realism, "detect_faces", lambda image: np.zeros((0, 3)))
    out = real_crops(Framing(2.0, (0.0, 0.0)), Framing(2.0, (0.0, 0.0)), 32)
    assert [c.name for c in out] == list(ANNOTATED)


def test_detection_rate(crops):
    blank = np.full((3, SIZE, SIZE, 3), 115, np.uint8)
    assert detection_rate(blank) == 0.0
    assert detection_rate(blank, upscale=1) == 0.0
    # the astronaut, boxed by the detector with some margin, is found again
    face = crops[-1].image
    assert detection_rate(np.stack([face, blank[0]])) == 0.5


def test_detection_rate_of_no_images():
    with pytest.raises(ValueError, match="no images"):
        detection_rate(np.zeros((0, 32, 32, 3), np.uint8))


# --- our framing, on the tiny data set -----------------------------------------------


def rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4), real part first."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack(
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)]
            ),
            np.stack(
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)]
            ),
            np.stack(
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
            ),
        ]
    ).transpose(*range(2, q.ndim + 1), 0, 1)


def test_our_framing_on_the_tiny_data_set(tiny_path):
    data = load_dataset(tiny_path)
    subjects = data.subjects("train")
    S = data.image_size
    K, q, t = (np.asarray(data.array(n)[subjects], np.float64) for n in ("K", "q", "t"))
    R = rotation(q)  # (n, V, 3, 3) model to camera
    # yaw about the vertical axis: the camera's optical axis seen in the model frame
    yaw = np.degrees(np.arctan2(-R[..., 2, 0], R[..., 2, 2])).reshape(-1)
    frontal = np.abs(yaw) < 25.0
    assert 0 < frontal.sum() < frontal.size, "the tiny set has frontal and turned"

    try:
        ours = our_framing(data, subjects)
    except ValueError as err:  # the detector must find a face in one of them
        pytest.skip(f"no face detected in the tiny set's 32 px photographs: {err}")

    n = int(frontal.sum())
    assert ours.images.shape == (n, S, S, 3) and ours.images.dtype == np.uint8
    expected_images = (
        np.asarray(data.images)[subjects]
        .reshape(-1, 3, S, S)[frontal]
        .transpose(0, 2, 3, 1)
    )
    np.testing.assert_array_equal(ours.images, expected_images)

    # landmarks: x_cam = R X + t, pixel = (K x_cam)[:2] / z
    X = np.asarray(data.shapes, np.float64)[subjects][:, data.template.landmarks]
    cam = np.einsum("nvij,npj->nvpi", R, X) + t[:, :, None]
    pix = np.einsum("nvij,nvpj->nvpi", K, cam)
    uv = (pix[..., :2] / pix[..., 2:]).reshape(-1, 68, 2)[frontal]
    np.testing.assert_allclose(ours.landmarks, uv, atol=1e-3)

    # the landmark framing: medians over the frontal photographs
    boxes = np.stack([landmark_box(lm) for lm in uv])
    margin = np.median(S / boxes[:, 2])
    assert ours.by_landmarks.margin == pytest.approx(margin, rel=1e-6)
    shift_x = np.median(((S - 1) / 2 - boxes[:, 0] - boxes[:, 2] / 2) / boxes[:, 2])
    assert ours.by_landmarks.shift[0] == pytest.approx(shift_x, abs=1e-6)
    # a face fills a good part of our photographs, near their centre
    for framing in (ours.by_landmarks, ours.by_detector):
        assert 1.0 < framing.margin < 4.0
        assert np.abs(framing.shift).max() < 0.5

"""facelib.real.photos: the iBUG ``.pts`` reader on hand-written files, and the real
photographs against facts about a face that do not come from the loader (the subject's
right eye is on the image's left, the chin below the eyes, landmarks on the image)."""

import numpy as np
import pytest

from facelib.real.assets import asset_path
from facelib.real.photos import ANNOTATED, RealPhoto, load_real_photos, read_pts

# iBUG-68 landmarks (0-based)
CHIN = 8
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 36, 45  # the subject's right and left


def test_read_pts_of_a_small_file():
    """Header lines, blank lines and surrounding spaces are ignored; the points are
    returned as written (no change of origin)."""
    text = "version: 1\nn_points:  3\n{\n1.5 2.25\n  10 20  \n\n-3 0.5\n}\n"
    points = read_pts(text)
    np.testing.assert_array_equal(points, [[1.5, 2.25], [10.0, 20.0], [-3.0, 0.5]])
    assert points.dtype == np.float64


def test_read_pts_with_windows_line_endings():
    text = "version: 1\r\nn_points: 2\r\n{\r\n1 2\r\n3 4\r\n}\r\n"
    np.testing.assert_array_equal(read_pts(text), [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("version: 1\n{\n1 2\n}\n", id="no n_points"),
        pytest.param("n_points: 3\n{\n1 2\n3 4\n}\n", id="too few points"),
        pytest.param("n_points: 1\n{\n1 2\n3 4\n}\n", id="too many points"),
        pytest.param("n_points: 2\n{\n1 2 3\n4 5 6\n}\n", id="three values a point"),
        pytest.param("n_points: 2\n{\n1 2\n3\n}\n", id="ragged rows"),
        pytest.param("n_points: 1\n1 2\n", id="no braces"),
        pytest.param("n_points: 1\n{\n1 2\n", id="no closing brace"),
        pytest.param("n_points: three\n{\n1 2\n}\n", id="count not a number"),
        pytest.param("n_points: 1\n{\n1 x\n}\n", id="coordinate not a number"),
        pytest.param("", id="empty"),
    ],
)
def test_read_pts_refuses_malformed_text(text):
    with pytest.raises(ValueError):
        read_pts(text)


@pytest.fixture(scope="module")
def photos() -> list[RealPhoto]:
    """The real photographs, or a skip when their files are not installed."""
    try:
        for name in ANNOTATED:
            asset_path(f"{name}.pts")
        return load_real_photos()
    except FileNotFoundError as err:
        pytest.skip(f"real photographs are not available: {err}")


def test_the_four_photographs(photos):
    assert [p.name for p in photos] == ["einstein", "breakingbad", "takeo", "astronaut"]
    for photo in photos:
        image = photo.image
        assert image.dtype == np.uint8
        assert image.ndim == 3 and image.shape[2] == 3
        assert min(image.shape[:2]) >= 100
        assert image.std() > 10, f"{photo.name} is nearly uniform"
    assert photos[-1].landmarks is None
    assert all(p.landmarks is not None for p in photos[:3])


def test_landmarks_are_the_files_points_moved_to_zero_based_pixels(photos):
    """iBUG ``.pts`` files put the top-left pixel's centre at (1, 1); ours at (0, 0)."""
    for photo in photos[:3]:
        raw = read_pts(asset_path(f"{photo.name}.pts").read_text())
        np.testing.assert_allclose(photo.landmarks, raw - 1.0, atol=0)


def test_landmarks_lie_on_the_face(photos):
    """Inside the image; the subject's right outer eye corner (36) on the image's left
    of the left one (45), at a plausible eye distance; the chin (8) below both eyes."""
    for photo in photos[:3]:
        lm = photo.landmarks
        H, W = photo.image.shape[:2]
        assert lm.shape == (68, 2) and np.isfinite(lm).all()
        assert (lm >= -0.5).all(), photo.name
        assert (lm[:, 0] <= W - 0.5).all() and (lm[:, 1] <= H - 0.5).all(), photo.name
        right, left = lm[RIGHT_EYE_OUTER], lm[LEFT_EYE_OUTER]
        assert right[0] < left[0], photo.name
        eye_distance = np.linalg.norm(left - right)
        assert 0.05 * W < eye_distance < 0.9 * W, photo.name
        assert lm[CHIN, 1] > max(right[1], left[1]) + 0.5 * eye_distance, photo.name


def test_missing_files_are_reported(tmp_path, monkeypatch):
    """An empty real folder: a FileNotFoundError that says how to install the files."""
    monkeypatch.setenv("FACELIB_REAL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make env"):
        load_real_photos()

"""facelib.real.detector against hand-computed crops and framings, images whose content
is known pixel by pixel, and OpenCV's detector on a real portrait (the astronaut: one
face, roughly x 170-280, y 60-170) and on images with no face.

Pixel convention: pixel centres at integers; a :class:`Crop` with corner ``x0, y0``
covers ``[x0 - 0.5, x0 - 0.5 + side]``, so image pixel ``x0`` is the crop's pixel 0 when
``side == size``."""

import numpy as np
import pytest
from PIL import Image

from facelib.real.assets import package_file
from facelib.real.detector import (
    Crop,
    Framing,
    crop_image,
    detect_faces,
    landmark_box,
    landmark_framing,
    measure_framing,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    try:
        path = package_file("skimage", "data/astronaut.png")
    except FileNotFoundError as err:
        pytest.skip(f"scikit-image's astronaut is not available: {err}")
    return np.asarray(Image.open(path).convert("RGB"))


def random_image(h=50, w=60, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def bright_point_centroid(shape, point, crop: Crop) -> np.ndarray:
    """Where one bright image pixel at integer ``point`` (x, y) lands in
    ``crop_image``: the intensity-weighted centroid, crop pixels (x, y)."""
    image = np.zeros(shape, np.uint8)
    image[point[1], point[0]] = 255
    out = crop_image(image, crop)[..., 0].astype(np.float64)
    assert out.sum() > 0, "the point fell outside the crop"
    ys, xs = np.mgrid[: crop.size, : crop.size]
    w = out / out.sum()
    return np.array([(w * xs).sum(), (w * ys).sum()])


# --- Crop ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "crop",
    [Crop(0, 0, 64, 64), Crop(-3.25, 7.5, 41.3, 64), Crop(100.7, 20.1, 250.0, 96)],
)
def test_to_image_inverts_to_crop(crop):
    p = np.random.default_rng(1).uniform(-50, 300, (5, 7, 2))
    np.testing.assert_allclose(crop.to_image(crop.to_crop(p)), p, atol=1e-9)
    np.testing.assert_allclose(crop.to_crop(crop.to_image(p)), p, atol=1e-9)


def test_identity_crop_keeps_points():
    crop = Crop(0, 0, 32, 32)
    assert crop.scale == 1.0
    p = np.array([[0.0, 0.0], [31.0, 31.0], [12.3, 4.7]])
    np.testing.assert_allclose(crop.to_crop(p), p, atol=1e-12)


def test_crop_maps_its_region_edges_and_pixels_by_hand():
    """Region [x0 - 0.5, x0 - 0.5 + side] -> [-0.5, size - 0.5]; scale size / side."""
    crop = Crop(10.0, 20.0, 40.0, 20)
    assert crop.scale == 0.5
    edges = np.array([[9.5, 19.5], [49.5, 59.5], [29.5, 39.5]])
    np.testing.assert_allclose(
        crop.to_crop(edges), [[-0.5, -0.5], [19.5, 19.5], [9.5, 9.5]], atol=1e-12
    )
    # crop pixel 0 covers image pixels 10 and 11: its centre is between them
    np.testing.assert_allclose(crop.to_image([[0.0, 0.0]]), [[10.5, 20.5]], atol=1e-12)
    # an integer shift of an unscaled crop is a shift of the pixels
    np.testing.assert_allclose(
        Crop(7, 5, 20, 20).to_crop([[7.0, 5.0], [26.0, 24.0]]), [[0, 0], [19, 19]]
    )


# --- crop_image -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "x0, y0, size",
    [(0, 0, 50), (7, 5, 20), (40, 30, 20)],
    ids=["whole", "inner", "corner"],
)
def test_unscaled_integer_crop_is_the_image_region(x0, y0, size):
    """``side == size`` and an integer corner: bilinear resampling at scale 1 with no
    offset must return the pixels themselves, ``image[y0:y0+size, x0:x0+size]``."""
    image = random_image()
    out = crop_image(image, Crop(x0, y0, size, size))
    np.testing.assert_array_equal(out, image[y0 : y0 + size, x0 : x0 + size])


def test_unscaled_integer_crop_shape_and_type():
    """The crop has the requested size and the image's type."""
    image = random_image()
    out = crop_image(image, Crop(7, 5, 20, 20))
    assert out.shape == (20, 20, 3) and out.dtype == np.uint8


def test_half_size_crop_of_a_gradient_is_the_mean_of_2x2_blocks():
    """A linear gradient, shrunk by two: every crop pixel about the mean of the 2 x 2
    image pixels it covers (within 2 grey levels: 2 and 1 levels a pixel in x and y)."""
    h, w = 64, 80
    ys, xs = np.mgrid[:h, :w]
    grey = 40.0 + 2.0 * xs + 1.0 * ys
    image = np.repeat(grey[..., None], 3, -1).round().astype(np.uint8)
    x0, y0, size = 6, 4, 24
    out = crop_image(image, Crop(x0, y0, 2 * size, size)).astype(np.float64)
    region = grey[y0 : y0 + 2 * size, x0 : x0 + 2 * size]
    blocks = region.reshape(size, 2, size, 2).mean((1, 3))
    assert out.shape == (size, size, 3)
    np.testing.assert_allclose(out[..., 0], blocks, atol=2.0)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_outside_the_image_edge_pixels_are_repeated():
    """A crop over the top-left corner: where it leaves the image, the corner pixel and
    the edge rows and columns are repeated."""
    image = random_image(20, 20, seed=2)
    out = crop_image(image, Crop(-9, -9, 20, 20))
    assert out.shape == (20, 20, 3)
    # crop pixels 0..7 are image pixels -9..-2: above and left of the image
    assert (out[:8, :8] == image[0, 0]).all()
    # every column of crop pixels left of the image is the same (the first column's)
    for j in range(1, 8):
        np.testing.assert_array_equal(out[:, j], out[:, 0])
    assert not (out[:, 0] == out[0, 0]).all()


def test_a_crop_far_outside_the_image_repeats_the_edge():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:, :10] = 200
    assert (crop_image(image, Crop(-30, -30, 20, 20)) == 200).all()


@pytest.mark.parametrize(
    "crop",
    [Crop(10.3, 7.6, 50, 32), Crop(3, 2, 40, 20), Crop(12.5, 6.5, 24, 24)],
    ids=["shrink fractional", "half size", "unscaled half-pixel"],
)
def test_a_bright_point_lands_where_to_crop_says(crop):
    """Within one crop pixel, for shrinking and unscaled crops."""
    point = (30, 18)
    got = bright_point_centroid((50, 70, 3), point, crop)
    expected = crop.to_crop(np.array(point, dtype=np.float64))
    np.testing.assert_allclose(got, expected, atol=1.0)


@pytest.mark.parametrize(
    "crop",
    [Crop(7, 5, 20, 20), Crop(3.3, 2.7, 37, 64), Crop(14, 9, 16, 64)],
    ids=["unscaled", "enlarge 1.7", "enlarge 4"],
)
def test_a_bright_point_lands_exactly_where_to_crop_says(crop):
    """The image content and :meth:`Crop.to_crop` agree to a tenth of a crop pixel
    (the crop's landmarks are carried with to_crop, so they must)."""
    point = (20, 15)
    got = bright_point_centroid((40, 50, 3), point, crop)
    expected = crop.to_crop(np.array(point, dtype=np.float64))
    np.testing.assert_allclose(got, expected, atol=0.1)


# --- Framing and landmark boxes ------------------------------------------------------


def test_framing_crop_side_by_hand():
    crop = Framing(1.5, (0.1, -0.2)).crop(np.array([10.0, 20.0, 40.0]), 64)
    assert crop.side == pytest.approx(60.0)
    assert crop.size == 64
    assert crop.scale == pytest.approx(64 / 60)
    # the corner follows the centre: shifting the box shifts the crop
    moved = Framing(1.5, (0.1, -0.2)).crop(np.array([13.0, 25.0, 40.0]), 64)
    assert (moved.x0 - crop.x0, moved.y0 - crop.y0) == pytest.approx((3.0, 5.0))


def test_framing_crop_centre_by_hand():
    """Box (10, 20, 40): centre (30, 40). Framing(1.5, (0.1, -0.2)): the crop is centred
    at (30 + 4, 40 - 8) = (34, 32), 60 px wide: it covers [4, 64] x [2, 62], so its
    corner pixel centre is x0 = 4.5, y0 = 2.5, and its central point maps to (34,
    32)."""
    crop = Framing(1.5, (0.1, -0.2)).crop(np.array([10.0, 20.0, 40.0]), 64)
    centre = crop.to_image(np.array([(64 - 1) / 2, (64 - 1) / 2]))
    np.testing.assert_allclose(centre, [34.0, 32.0], atol=1e-9)
    assert (crop.x0, crop.y0) == pytest.approx((4.5, 2.5))


def test_landmark_box_by_hand():
    pts = np.array([[10.0, 25.0], [50.0, 20.0], [30.0, 40.0], [20.0, 30.0]])
    np.testing.assert_allclose(landmark_box(pts), [10.0, 10.0, 40.0])
    # taller than wide: the side is the height, centred
    np.testing.assert_allclose(landmark_box(pts[:, ::-1]), [10.0, 10.0, 40.0])


def synthetic_landmarks(cx, cy, side, rng) -> np.ndarray:
    """68 points whose landmark box is ``side`` wide, centred at (cx, cy)."""
    pts = rng.uniform(-0.3, 0.3, (68, 2)) * side
    pts[0, 0], pts[1, 0] = -side / 2, side / 2  # as wide as the box
    pts[2, 1], pts[3, 1] = -0.3 * side, 0.3 * side  # less tall, centred on cy
    return pts + [cx, cy]


def test_landmark_framing_by_hand():
    """A 64 px image whose landmark box is 20 px, centred 2 px left of the image's
    centre (31.5, 31.5): margin 64 / 20 = 3.2, the image's centre +0.1 box sides to the
    right. Two of three photographs frame it so: the medians are theirs."""
    rng = np.random.default_rng(0)
    lm = np.stack(
        [
            synthetic_landmarks(29.5, 31.5, 20.0, rng),
            synthetic_landmarks(29.5, 31.5, 20.0, rng),
            synthetic_landmarks(10.0, 50.0, 8.0, rng),
        ]
    )
    np.testing.assert_allclose(landmark_box(lm[0]), [19.5, 21.5, 20.0])
    framing = landmark_framing(lm, 64)
    assert framing.margin == pytest.approx(3.2)
    assert framing.shift == pytest.approx((0.1, 0.0))


def test_landmark_framing_reframes_the_photograph_it_was_measured_on():
    """The framing measured on a photograph, applied to that photograph's own landmark
    box, is the whole photograph: Crop(0, 0, 64, 64), which keeps every point."""
    lm = synthetic_landmarks(29.5, 31.5, 20.0, np.random.default_rng(0))
    crop = landmark_framing(lm[None], 64).crop(landmark_box(lm), 64)
    np.testing.assert_allclose(crop.to_crop(lm), lm, atol=1e-9)


# --- the detector --------------------------------------------------------------------


def test_the_astronaut_has_one_face(astronaut):
    boxes = detect_faces(astronaut)
    assert boxes.shape == (1, 3)
    x0, y0, side = boxes[0]
    assert 60 < side < 160
    # the box holds the face's centre and stays round the face
    assert x0 < 225 < x0 + side and y0 < 115 < y0 + side
    assert 140 < x0 and x0 + side < 310 and 30 < y0 and y0 + side < 200


def test_boxes_are_in_the_images_pixels_whatever_the_upscaling(astronaut):
    """The astronaut halved and detected at upscale 2 is boxed where the full image's
    box falls in the halved image (pixel centre x -> (x + 0.5) / 2 - 0.5), within a few
    pixels of the cascade's own scale steps."""
    full = detect_faces(astronaut)[0]
    half = np.asarray(
        Image.fromarray(astronaut).resize((256, 256), Image.Resampling.BOX)
    )
    boxes = detect_faces(half, upscale=2)
    assert boxes.shape == (1, 3)
    expected = [(full[0] + 0.5) / 2 - 0.5, (full[1] + 0.5) / 2 - 0.5, full[2] / 2]
    np.testing.assert_allclose(boxes[0], expected, atol=3.0)


def test_boxes_move_with_the_face(astronaut):
    """The face pasted at two places on a grey canvas: the box moves with it."""
    face = astronaut[40:200, 150:310]
    boxes = []
    for dx, dy in [(0, 0), (37, 51)]:
        canvas = np.full((260, 260, 3), 115, np.uint8)
        canvas[dy : dy + 160, dx : dx + 160] = face
        found = detect_faces(canvas)
        assert found.shape == (1, 3)
        boxes.append(found[0])
    np.testing.assert_allclose(boxes[1][:2] - boxes[0][:2], [37, 51], atol=4.0)
    assert boxes[1][2] == pytest.approx(boxes[0][2], rel=0.1)


def test_min_side_drops_smaller_boxes(astronaut):
    side = detect_faces(astronaut)[0, 2]
    assert detect_faces(astronaut, min_side=int(side) + 20).shape == (0, 3)


@pytest.mark.parametrize("upscale", [1, 4])
def test_no_face_in_a_blank_image(upscale):
    boxes = detect_faces(np.full((64, 64, 3), 115, np.uint8), upscale=upscale)
    assert boxes.shape == (0, 3)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64), np.uint8),
        np.zeros((64, 64, 3), np.float32),
        np.zeros((64, 64, 4), np.uint8),
        np.zeros((3, 64, 64), np.uint8),
    ],
    ids=["grey 2D", "float", "RGBA", "channels first"],
)
def test_detect_faces_refuses_other_images(image):
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(image)


def test_measure_framing_without_a_face():
    with pytest.raises(ValueError, match="no single face"):
        measure_framing(np.full((3, 32, 32, 3), 115, np.uint8))


def test_measure_framing_by_hand(astronaut):
    """Two copies of a small face and a blank image: a rate of 2/3, a NaN box for the
    blank one, and the framing of the face's box: margin S / side, shift from the box's
    centre to the image's ((S - 1) / 2) in box sides."""
    S = 48
    face = np.asarray(
        Image.fromarray(astronaut[40:200, 150:310]).resize((S, S), Image.Resampling.BOX)
    )
    blank = np.full_like(face, 115)
    images = np.stack([face, blank, face])
    framing, rate, boxes = measure_framing(images, upscale=4)
    assert rate == pytest.approx(2 / 3)
    assert boxes.shape == (3, 3)
    assert np.isnan(boxes[1]).all()
    np.testing.assert_array_equal(boxes[0], boxes[2])
    x0, y0, side = boxes[0]
    assert 15 < side < 45
    assert framing.margin == pytest.approx(S / side)
    assert framing.shift == pytest.approx(
        (((S - 1) / 2 - x0 - side / 2) / side, ((S - 1) / 2 - y0 - side / 2) / side)
    )
    # the framing turns the box back into (about) the whole image
    crop = framing.crop(boxes[0], S)
    assert crop.side == pytest.approx(S)
    assert abs(crop.x0) <= 0.5 + 1e-9 and abs(crop.y0) <= 0.5 + 1e-9

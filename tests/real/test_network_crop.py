"""facelib.real.network_crop against a network whose answer is known: a stand-in that
finds a bright square in the image it sees and answers the camera that puts a flat
ring of 68 landmarks exactly on the square. Whatever the square's size and place in
the photograph, the final crop must show it where the framing puts a face's box (the
expected place derived by hand from the framing's definition), read back from the
crop's pixels."""

import numpy as np
import pytest
import torch

from facelib.geometry.camera import intrinsics_from_fov
from facelib.geometry.framing import Framing
from facelib.learn.nets import Prediction
from facelib.real.network_crop import crop_by_network, network_landmarks

WIDTH_MM = 100.0  # the side of the landmark ring


def _ring() -> torch.Tensor:
    """68 points on the border of a square of side WIDTH_MM, flat (z = 0)."""
    s = torch.linspace(-0.5, 0.5, 17, dtype=torch.float64)[:-1] * WIDTH_MM
    h = WIDTH_MM / 2
    sides = [
        torch.stack([s, torch.full_like(s, -h)], -1),
        torch.stack([torch.full_like(s, h), s], -1),
        torch.stack([-s, torch.full_like(s, h)], -1),
        torch.stack([torch.full_like(s, -h), -s], -1),
    ]
    xy = torch.cat(sides)
    ring = torch.cat([xy, torch.zeros(64, 1, dtype=torch.float64)], -1)
    return torch.cat([ring, ring[:4] * 0.5])  # 68 points, the box is the border's


class _RingModel:
    """A stand-in 3DMM: every coefficient vector gives the ring."""

    def shape(self, alpha: torch.Tensor) -> torch.Tensor:
        return _ring().to(alpha.dtype).expand(*alpha.shape[:-1], 68, 3)


def _square_box(image: torch.Tensor) -> tuple[float, float, float]:
    """Centre x, y and side (px) of the bright square in an image (3, S, S)."""
    ys, xs = torch.nonzero(image[0] > 127, as_tuple=True)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    side = float(max(x1 - x0, y1 - y0) + 1)
    return float(x0 + x1) / 2, float(y0 + y1) / 2, side


class _SquareFinder(torch.nn.Module):
    """Answers the camera (no rotation) that projects the ring onto the square."""

    def __init__(self, size: int):
        super().__init__()
        self.image_size = size
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.register_buffer("K_default", intrinsics_from_fov(30.0, size, size))

    def forward(self, images: torch.Tensor) -> Prediction:
        f, c = float(self.K_default[0, 0]), float(self.K_default[0, 2])
        t = []
        for image in images:
            cx, cy, side = _square_box(image)
            tz = f * WIDTH_MM / side
            t.append([(cx - c) * tz / f, (cy - c) * tz / f, tz])
        B = len(images)
        q = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(B, 1, 4)
        return Prediction(torch.zeros(B, 3), q, torch.tensor(t)[:, None])


def _photograph(size: int, x0: int, y0: int, side: int) -> torch.Tensor:
    image = torch.full((3, size, size), 40, dtype=torch.uint8)
    image[:, y0 : y0 + side, x0 : x0 + side] = 220
    return image


def test_the_landmarks_land_on_the_square():
    net = _SquareFinder(32)
    uv = network_landmarks(
        net, _photograph(32, 5, 9, 12)[None], _RingModel(), range(68)
    )
    # the square's pixels 5..16 and 9..20: its border lies half a pixel outside
    np.testing.assert_allclose(uv[0].min(0), [4.5, 8.5], atol=1e-6)
    np.testing.assert_allclose(uv[0].max(0), [16.5, 20.5], atol=1e-6)


@pytest.mark.parametrize("passes", [1, 2])
def test_the_crop_frames_the_square_like_a_face(passes):
    S, margin, shift = 32, 2.05, (0.0, -0.11)
    photos = torch.stack(
        [_photograph(96, 10, 50, 30), _photograph(96, 40, 20, 44)]
    )  # the face small and off-centre, then large
    out = crop_by_network(
        photos,
        _SquareFinder(S),
        _RingModel(),
        range(68),
        Framing(margin, shift),
        passes=passes,
    )
    assert out.images.shape == (2, 3, S, S) and out.images.dtype == torch.uint8
    # by hand: the crop is margin box sides wide, its centre shift box sides from
    # the box's; so the box is S / margin px wide in the crop and its centre lies
    # -shift * S / margin px from the crop's centre (S - 1) / 2
    want_side = S / margin
    want_centre = np.array(
        [(S - 1) / 2 - shift[0] * want_side, (S - 1) / 2 - shift[1] * want_side]
    )
    for image in out.images:
        cx, cy, side = _square_box(image)
        assert abs(side - want_side) <= 1.0
        np.testing.assert_allclose([cx, cy], want_centre, atol=0.75)
    # the landmarks are returned in the photographs' pixels, round the squares (to
    # half a pixel of the crop the network last saw: about 2 photograph pixels wide)
    np.testing.assert_allclose(out.landmarks[0].min(0), [9.5, 49.5], atol=1.2)
    np.testing.assert_allclose(out.landmarks[1].max(0), [83.5, 63.5], atol=1.2)


def test_any_leading_dimensions():
    """Photographs (2, 1, 3, H, H) give crops (2, 1, 3, S, S), the same as (2, 3, H,
    H) do."""
    photos = torch.stack([_photograph(64, 3, 20, 16), _photograph(64, 30, 6, 24)])
    args = (_SquareFinder(32), _RingModel(), range(68), Framing(2.05, (0.0, -0.11)))
    flat = crop_by_network(photos, *args)
    nested = crop_by_network(photos[:, None], *args)
    assert nested.images.shape == (2, 1, 3, 32, 32)
    assert nested.landmarks.shape == (2, 1, 68, 2)
    assert torch.equal(nested.images[:, 0], flat.images)
    assert len(nested.crops) == 2


def test_bad_input_is_refused():
    net = _SquareFinder(32)
    with pytest.raises(ValueError, match="passes"):
        crop_by_network(
            _photograph(32, 5, 5, 9)[None],
            net,
            _RingModel(),
            range(68),
            Framing(2.0, (0, 0)),
            passes=0,
        )
    with pytest.raises(ValueError, match="square photographs"):
        crop_by_network(
            torch.zeros(1, 3, 32, 40, dtype=torch.uint8),
            net,
            _RingModel(),
            range(68),
            Framing(2.0, (0, 0)),
        )


def test_a_shape_only_network_is_refused():
    class ShapeOnly(_SquareFinder):
        def forward(self, images):
            return Prediction(torch.zeros(len(images), 3), None, None)

    with pytest.raises(ValueError, match="estimates cameras"):
        network_landmarks(
            ShapeOnly(32), _photograph(32, 5, 5, 9)[None], _RingModel(), range(68)
        )

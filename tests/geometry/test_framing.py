"""facelib.geometry.framing: boxes, framings and crops against hand-derived values,
and a crop's intrinsics against cropping a projection point by point."""

import numpy as np
import pytest
import torch

from facelib.geometry import camera
from facelib.geometry.framing import (
    Crop,
    Framing,
    crop_intrinsics,
    framed_crops,
    landmark_box,
    landmark_boxes,
)


def test_landmark_box_is_the_square_round_the_points():
    points = np.array([[10.0, 20.0], [30.0, 25.0], [18.0, 60.0]])
    # x 10..30 (width 20), y 20..60 (height 40): side 40 centred on (20, 40)
    np.testing.assert_array_equal(landmark_box(points), [0.0, 20.0, 40.0])
    batched = landmark_boxes(torch.from_numpy(np.stack([points, points + 5.0])))
    np.testing.assert_array_equal(batched.numpy(), [[0, 20, 40], [5, 25, 40]])
    # a reversed (negative-stride) view is read as well
    np.testing.assert_array_equal(landmark_box(points[::-1]), [0.0, 20.0, 40.0])


def test_framing_by_hand():
    box = np.array([100.0, 50.0, 40.0])  # centre (120, 70)
    crop = Framing(margin=2.0, shift=(0.25, -0.5)).crop(box, 64)
    # centre (120 + 10, 70 - 20), side 80: the region [90, 170] x [10, 90], whose
    # corner pixel's centre is half a pixel inside
    assert (crop.x0, crop.y0, crop.side, crop.size) == (90.5, 10.5, 80.0, 64)
    assert crop.scale == 0.8
    np.testing.assert_allclose(
        crop.to_crop([[90.0, 10.0], [170.0, 90.0]]),
        [
            [-0.5, -0.5],
            [63.5, 63.5],
        ],
    )
    torch.testing.assert_close(
        framed_crops(torch.tensor([box, box]), Framing(2.0, (0.25, -0.5))),
        torch.tensor([[90.5, 10.5, 80.0]] * 2, dtype=torch.float64),
    )
    with pytest.raises(ValueError, match="margin must be positive"):
        Framing(margin=0.0, shift=(0.0, 0.0))


def test_crop_intrinsics_move_points_as_the_crop_does():
    """Projecting with the crop's K is projecting with K, then mapping the pixel into
    the crop (:meth:`Crop.to_crop`, written without K)."""
    rng = np.random.default_rng(0)
    points = torch.from_numpy(rng.normal(0, 60, (50, 3)))
    K = camera.intrinsics_from_fov(40.0, 640, 480, dtype=torch.float64)
    q = torch.tensor([0.97, 0.1, -0.2, 0.05], dtype=torch.float64)
    t = torch.tensor([15.0, -20.0, 700.0], dtype=torch.float64)
    uv = camera.project(points, K, q, t).numpy()
    for crop in (Crop(200.5, 100.25, 300.0, 64), Crop(-40.0, 10.0, 90.0, 224)):
        K_crop = crop.intrinsics(K.numpy())
        projected = camera.project(points, torch.from_numpy(K_crop), q, t).numpy()
        np.testing.assert_allclose(projected, crop.to_crop(uv), atol=1e-9)
        batched = crop_intrinsics(
            K[None], torch.tensor([[crop.x0, crop.y0, crop.side]]), crop.size
        )
        np.testing.assert_allclose(batched[0].numpy(), K_crop, atol=1e-12)
    with pytest.raises(ValueError, match=r"K \(3, 3\)"):
        Crop(0, 0, 10, 10).intrinsics(np.eye(2))

"""facelib.geometry.mirror: mirrored shapes keep their vertices' meaning, mirrored
cameras see the flipped image, mirrored scenes render as the flipped photographs."""

import numpy as np
import pytest
import torch
from conftest import symmetric_points
from scipy.spatial.transform import Rotation

import facelib.geometry.mirror as mirror_module
from facelib.geometry import camera
from facelib.geometry.camera import intrinsics_from_fov, orbit_pose
from facelib.geometry.mirror import (
    mirror_camera,
    mirror_pairs,
    mirror_reprojection_error,
    mirror_scene,
    mirror_shapes,
)

BATCHES = [(), (1,), (5, 6)]
FLIP_X = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)


def off_centre_camera(width, batch=()):
    """Cameras of random head poses at 600 mm with the principal point 3 px right of
    the image centre."""
    angles = torch.from_numpy(np.random.default_rng(9).uniform(-60, 60, (*batch, 3)))
    q = camera.yaw_pitch_roll_to_quaternion(angles)
    t = torch.tensor([10.0, -5.0, 600.0], dtype=torch.float64).expand(*batch, 3)
    K = camera.intrinsics_from_fov(35.0, width, 80, dtype=torch.float64).clone()
    K[0, 2] += 3.0  # an off-centre principal point, to check it moves
    return K, q, t, angles


# ---------------------------------------------------------------------------- shapes
def test_mirror_shapes_keeps_vertex_meaning():
    rng = np.random.default_rng(4)
    pts, mirror = symmetric_points(rng, 5)
    m = mirror_shapes(pts, mirror)
    np.testing.assert_allclose(
        m, pts, atol=1e-12
    )  # a symmetric shape is its own mirror image
    bumped = pts.copy()
    bumped[0, 2] -= 10.0  # push vertex 0 (on the +x side) forward
    m = mirror_shapes(bumped, mirror)
    assert m[mirror[0], 2] == pytest.approx(
        pts[0, 2] - 10.0
    )  # the bump moved to the twin
    mt = mirror_shapes(torch.from_numpy(bumped), mirror)
    np.testing.assert_allclose(mt.numpy(), m)
    np.testing.assert_allclose(mirror_shapes(m, mirror), bumped)


def test_mirror_shapes_by_hand_on_batches_and_dtypes():
    # three vertices: 0 and 2 are twins, 1 lies on the symmetry plane
    shape = np.array([[5.0, 1.0, 2.0], [0.5, 3.0, 4.0], [-6.0, 7.0, 8.0]])
    mirror = np.array([2, 1, 0])
    expected = np.array([[6.0, 7.0, 8.0], [-0.5, 3.0, 4.0], [-5.0, 1.0, 2.0]])
    np.testing.assert_array_equal(mirror_shapes(shape, mirror), expected)
    batch = np.stack([shape, 2 * shape]).astype(np.float32)[None]  # (1, 2, P, 3)
    out = mirror_shapes(batch, mirror)
    assert out.dtype == np.float32 and out.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(out[0, 1], 2 * expected)
    tensor = torch.from_numpy(batch)
    out_t = mirror_shapes(tensor, mirror)
    assert out_t.dtype == torch.float32 and out_t.device == tensor.device
    np.testing.assert_array_equal(out_t.numpy(), out)


# --------------------------------------------------------------------------- cameras
@pytest.mark.parametrize("batch", BATCHES)
def test_mirror_camera_reprojects_to_flipped_pixels(batch):
    W = 96
    X = torch.randn(*batch, 12, 3, dtype=torch.float64) * 40
    K, q, t, angles = off_centre_camera(W, batch)
    Km, qm, tm = mirror_camera(K, q, t, W)
    uv = camera.project(X, K, q, t)
    uv_m = camera.project(X * FLIP_X, Km, qm, tm)
    np.testing.assert_allclose(
        uv_m[..., 0].numpy(), (W - 1 - uv[..., 0]).numpy(), atol=1e-9
    )
    np.testing.assert_allclose(uv_m[..., 1].numpy(), uv[..., 1].numpy(), atol=1e-9)
    # yaw and roll change sign, pitch stays
    ang_m = camera.quaternion_to_yaw_pitch_roll(qm)
    np.testing.assert_allclose(
        ang_m.numpy(),
        (angles * torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)).numpy(),
        atol=1e-6,
    )


def test_mirror_camera_by_hand():
    K = torch.tensor([[100.0, 2.0, 40.0], [0.0, 110.0, 30.0], [0.0, 0.0, 1.0]])
    q = torch.tensor([0.5, 0.5, 0.5, 0.5])
    t = torch.tensor([1.0, 2.0, 3.0])
    Km, qm, tm = mirror_camera(K, q, t, 64)
    # principal point 63 - 40 = 23, the skew changes sign; q -> (w, x, -y, -z)
    expected = torch.tensor([[100.0, -2.0, 23.0], [0.0, 110.0, 30.0], [0.0, 0.0, 1.0]])
    assert torch.equal(Km, expected)
    assert torch.allclose(qm, torch.tensor([0.5, 0.5, -0.5, -0.5]))
    assert torch.equal(tm, torch.tensor([-1.0, 2.0, 3.0]))
    assert torch.equal(K[0], torch.tensor([100.0, 2.0, 40.0]))  # the input is kept
    # mirroring twice gives the camera back
    K2, q2, t2 = mirror_camera(Km, qm, tm, 64)
    assert torch.equal(K2, K) and torch.allclose(q2, q) and torch.equal(t2, t)
    with pytest.raises(ValueError):
        mirror_camera(K[:2], q, t, 64)
    with pytest.raises(ValueError):
        mirror_camera(K, q, t[:2], 64)


# ---------------------------------------------------------------------------- scenes
def test_mirror_scene_flips_the_images_and_mirrors_camera_and_shape():
    W, H = 40, 30
    images = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1))
    K, q, t, _ = off_centre_camera(W, (2,))
    pts, mirror = symmetric_points(np.random.default_rng(2), 6)
    shape = torch.from_numpy(pts + np.random.default_rng(3).normal(0, 5, pts.shape))
    flipped, Km, qm, tm, shape_m = mirror_scene(images, K, q, t, shape, mirror)
    np.testing.assert_array_equal(flipped.numpy(), images.numpy()[..., ::-1])
    for got, want in zip((Km, qm, tm), mirror_camera(K, q, t, W)):
        assert torch.equal(got, want)
    assert torch.equal(shape_m, mirror_shapes(shape, mirror))
    # vertex i of the mirrored shape is the twin of vertex mirror[i]: it lands where
    # that vertex lands in the flipped image
    uv = camera.project(shape, K, q, t)  # (2, P, 2)
    uv_m = camera.project(shape_m, Km, qm, tm)
    np.testing.assert_allclose(
        uv_m[..., 0].numpy(), (W - 1 - uv[:, mirror, 0]).numpy(), atol=1e-9
    )
    np.testing.assert_allclose(uv_m[..., 1].numpy(), uv[:, mirror, 1].numpy())


def test_mirrored_scene_renders_as_the_flipped_image(world):
    """Render a scene, and render its mirror image (mirrored shape, camera, albedo and
    light): the second must be the first flipped left-right, pixel for pixel except on a
    few edge pixels."""
    from facelib.graphics.render import render
    from facelib.world.scenes import CameraSettings, sample_scene_cameras

    template, shapes, albedo = world
    faces = torch.from_numpy(template.faces)
    S = 64
    cams = sample_scene_cameras(
        1, 4, CameraSettings(image_size=S), torch.Generator().manual_seed(6)
    )
    K, q, t = cams.K[0], cams.q[0], cams.t[0]
    shape = shapes[0].expand(4, -1, -1)
    light = cams.light_dir[0]
    bg = torch.rand(
        4, 3, S, S, generator=torch.Generator().manual_seed(7), dtype=torch.float64
    )
    image = render(shape, faces, albedo[0].expand(4, -1, -1), K, q, t, light, bg).images
    flipped, K_m, q_m, t_m, shape_m = mirror_scene(
        image, K, q, t, shape, template.mirror
    )
    albedo_m = albedo[0][template.mirror].expand(
        4, -1, -1
    )  # colours travel with their vertices
    light_m = light * FLIP_X
    mirrored = render(
        shape_m, faces, albedo_m, K_m, q_m, t_m, light_m, bg.flip(-1)
    ).images
    same = ((mirrored - flipped).abs().amax(dim=1) < 1e-6).double().mean()
    assert same > 0.99, same
    # and the shape's mirror is the same as mirror_shapes
    assert torch.equal(shape_m, mirror_shapes(shape, template.mirror))


# ----- checks: twin pairs, the mirrored-scene reprojection error
WIDTH = 64


def test_mirror_pairs_counts_the_twins_off_the_plane():
    # 0<->1 and 3<->4 are twins; 2 and 5 lie on the symmetry plane
    assert mirror_pairs(np.array([1, 0, 2, 4, 3, 5])) == 2
    assert mirror_pairs(np.arange(7)) == 0
    assert mirror_pairs(np.arange(10)[::-1]) == 5
    with pytest.raises(ValueError, match="involution"):
        mirror_pairs(np.array([1, 2, 0]))  # a 3-cycle is no mirror


def scene(seed=0, N=2, V=3, P=30):
    """Random shapes (N, P, 3) mm near the origin, seen by V cameras each from 600 mm,
    with the principal point off the image centre (a mirrored camera must move it)."""
    rng = np.random.default_rng(seed)
    shapes = torch.from_numpy(rng.normal(0.0, 40.0, (N, P, 3)))
    angles = torch.from_numpy(rng.uniform(-60.0, 60.0, (N, V, 3)))
    q, t = orbit_pose(angles, 600.0)
    K = intrinsics_from_fov(30.0, WIDTH, WIDTH, dtype=torch.float64).expand(N, V, 3, 3)
    K = K.clone()
    K[..., 0, 2] = 20.0  # (W - 1) / 2 would be 31.5
    return shapes, K, q, t


def numpy_project(points, K, q, t):
    """Pixels (P, 2) of points (P, 3) through one camera, with scipy's rotation."""
    R = Rotation.from_quat(np.asarray(q)[[1, 2, 3, 0]]).as_matrix()  # (x, y, z, w)
    cam = np.asarray(points) @ R.T + np.asarray(t)
    uvw = cam @ np.asarray(K).T
    return uvw[:, :2] / uvw[:, 2:]


def test_numpy_reference_camera_agrees_with_facelib():
    from facelib.geometry.camera import project

    shapes, K, q, t = scene()
    np.testing.assert_allclose(
        numpy_project(shapes[1], K[1, 2], q[1, 2], t[1, 2]),
        project(shapes[1], K[1, 2], q[1, 2], t[1, 2]).numpy(),
        atol=1e-9,
    )


def test_a_true_mirror_reprojects_to_the_flipped_pixels():
    shapes, K, q, t = scene()
    P = shapes.shape[1]
    for mirror in (np.arange(P)[::-1].copy(), np.arange(P)):  # any involution
        assert mirror_reprojection_error(shapes, K, q, t, mirror, WIDTH) < 1e-9


def test_a_mirror_that_is_no_involution_shows_against_a_numpy_reference():
    """With the twin map p, the mirrored scene puts vertex p(p(i)) on the flipped pixel
    of vertex i, so the error is max_i |proj(x_p(p(i))) - proj(x_i)| per coordinate."""
    shapes, K, q, t = scene(seed=1)
    N, V, P = shapes.shape[0], q.shape[1], shapes.shape[1]
    p = np.roll(np.arange(P), 1)  # i -> i - 1: p(p(i)) = i - 2
    expected = 0.0
    for n in range(N):
        for v in range(V):
            uv = numpy_project(shapes[n], K[n, v], q[n, v], t[n, v])
            expected = max(expected, np.abs(uv[p[p]] - uv).max())
    assert expected > 1.0
    error = mirror_reprojection_error(shapes, K, q, t, p, WIDTH)
    np.testing.assert_allclose(error, expected, rtol=1e-9)


def test_a_camera_mirrored_without_its_principal_point_is_caught(monkeypatch):
    """A mirror_camera that forgets to move the principal point to W - 1 - c_x shifts
    every mirrored pixel by 2 c_x - (W - 1): the check reports exactly that."""
    shapes, K, q, t = scene(seed=2)
    right = mirror_module.mirror_camera

    def forgetful(K, q, t, width):
        _, q_m, t_m = right(K, q, t, width)
        return K, q_m, t_m

    monkeypatch.setattr(mirror_module, "mirror_camera", forgetful)
    error = mirror_reprojection_error(shapes, K, q, t, np.arange(30), WIDTH)
    np.testing.assert_allclose(error, abs(2 * 20.0 - (WIDTH - 1)), rtol=1e-9)

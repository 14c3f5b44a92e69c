"""facelib.world.scenes: cameras, captures and the photographs' consistency with the
cameras (mirrored scenes: tests/geometry/test_mirror.py)."""

import math

import pytest
import torch

from facelib.geometry import camera
from facelib.geometry.framing import landmark_boxes
from facelib.world.scenes import (
    CameraSettings,
    frame_faces,
    landmark_consistency,
    orbit_cameras,
    render_images,
    sample_capture_cameras,
    sample_scene_cameras,
)


def test_scene_cameras_cover_the_yaw_range():
    settings = CameraSettings(image_size=64)
    cams = sample_scene_cameras(200, 5, settings, torch.Generator().manual_seed(1))
    yaw = camera.quaternion_to_yaw_pitch_roll(cams.q)[..., 0]
    sorted_yaw, _ = yaw.sort(dim=1)
    edges = torch.linspace(-90, 90, 6, dtype=torch.float64)
    assert (
        (sorted_yaw >= edges[:-1] - 1e-6) & (sorted_yaw <= edges[1:] + 1e-6)
    ).all()  # one view per sector
    assert yaw.min() < -85 and yaw.max() > 85
    assert torch.equal(
        cams.K,
        camera.intrinsics_from_fov(30.0, 64, 64, dtype=torch.float64).expand(
            200, 5, 3, 3
        ),
    )
    distance = camera.camera_center(cams.q, cams.t).norm(dim=-1)
    assert distance.min() > 410 and distance.max() < 730


def test_orbit_cameras_look_at_the_head_centre():
    """Hand-derived: the camera centre lies at the distance on the horizontal circle
    round the origin, at the yaw's angle (seen from the front at yaw 0, from the
    subject's right at +90°: x = d sin(yaw), z = -d cos(yaw)); the origin projects to
    the principal point; K is the phone's; each photograph has its own light."""
    settings = CameraSettings(image_size=48)
    yaws = (-45.0, 0.0, 90.0)
    cams = orbit_cameras(2, yaws, 500.0, settings, torch.Generator().manual_seed(0))
    assert cams.q.shape == (2, 3, 4) and cams.K.shape == (2, 3, 3, 3)
    focal = 24.0 / math.tan(math.radians(15.0))
    want_K = torch.tensor(
        [[focal, 0.0, 23.5], [0.0, focal, 23.5], [0.0, 0.0, 1.0]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(cams.K, want_K.expand(2, 3, 3, 3))
    yaw = torch.tensor(yaws, dtype=torch.float64).deg2rad()
    centre = camera.camera_center(cams.q, cams.t)
    want = torch.stack(
        [500 * yaw.sin(), torch.zeros(3, dtype=torch.float64), -500 * yaw.cos()], -1
    )
    torch.testing.assert_close(centre, want.expand(2, 3, 3), atol=1e-9, rtol=0)
    origin = camera.project(torch.zeros(2, 3, 1, 3).double(), cams.K, cams.q, cams.t)
    torch.testing.assert_close(origin, torch.full((2, 3, 1, 2), 23.5).double())
    assert len(torch.unique(cams.light_dir.reshape(6, 3), dim=0)) == 6


def test_photographs_are_framed_like_a_detectors_crops():
    """Without jitter every crop shows the landmarks' box at the framing's size and
    place (derived by hand from the margin and shift); with it, the box moves and
    scales by the jitter's spread; rotations and translations are unchanged."""
    g = torch.Generator().manual_seed(5)
    landmarks = torch.randn(40, 68, 3, generator=g, dtype=torch.float64) * 30.0
    still = CameraSettings(image_size=64, crop_centre_jitter=0.0, crop_scale_jitter=0)
    cams = sample_scene_cameras(40, 5, still, g)
    framed = frame_faces(cams, landmarks, still, g)
    assert torch.equal(framed.q, cams.q) and torch.equal(framed.t, cams.t)
    uv = camera.project(landmarks[:, None], framed.K, framed.q, framed.t)
    boxes = landmark_boxes(uv)
    side = 64 / 2.05
    torch.testing.assert_close(boxes[..., 2], torch.full((40, 5), side).double())
    centre = boxes[..., :2] + boxes[..., 2:] / 2
    want = torch.tensor([31.5, 31.5 + 0.11 * side], dtype=torch.float64)
    torch.testing.assert_close(centre, want.expand(40, 5, 2))
    jittered = frame_faces(cams, landmarks, CameraSettings(image_size=64), g)
    uv = camera.project(landmarks[:, None], jittered.K, cams.q, cams.t)
    boxes = landmark_boxes(uv)
    log_scale = torch.log(boxes[..., 2] / side)
    assert 0.07 < log_scale.std() < 0.13 and log_scale.abs().max() < 0.25
    offset = (boxes[..., :2] + boxes[..., 2:] / 2 - want) / boxes[..., 2:]
    assert 0.03 < offset.std() < 0.08


def test_capture_cameras_and_their_light():
    settings = CameraSettings(image_size=64)
    orbit = sample_capture_cameras(
        "orbit", 40, settings, torch.Generator().manual_seed(2)
    )
    turn = sample_capture_cameras(
        "turn", 40, settings, torch.Generator().manual_seed(2)
    )
    for cap in (orbit, turn):
        yaw = camera.quaternion_to_yaw_pitch_roll(cap.q)[:, 0]
        steps = yaw.diff()
        assert (
            (steps > 0).all() or (steps < 0).all()
        ) and yaw.abs().max() > 65  # one sweep, side to side
    assert torch.allclose(
        orbit.light_dir, orbit.light_dir[:1].expand(40, 3)
    )  # fixed on the face
    # turn: fixed in the camera frame, so it turns in the face's frame
    light_cam = (camera.quaternion_to_matrix(turn.q) @ turn.light_dir[..., None])[
        ..., 0
    ]
    assert torch.allclose(light_cam, light_cam[:1].expand(40, 3), atol=1e-9)
    assert (turn.light_dir - turn.light_dir[:1]).norm(dim=-1).max() > 0.5
    with pytest.raises(ValueError, match="orbit"):
        sample_capture_cameras("walk", 40, settings, torch.Generator())


def test_rendered_landmarks_sit_where_the_cameras_project_them(world):
    template, shapes, _ = world
    cams = sample_scene_cameras(
        3, 5, CameraSettings(image_size=64), torch.Generator().manual_seed(3)
    )
    offsets, visible = landmark_consistency(
        shapes,
        torch.from_numpy(template.faces),
        template.landmarks,
        cams.K,
        cams.q,
        cams.t,
        64,
    )
    assert visible.sum() > 0.5 * visible.size
    assert offsets[visible].max() <= 1.0


def test_same_generator_same_images(world):
    template, shapes, albedo = world
    settings = CameraSettings(image_size=32)
    cams = sample_scene_cameras(3, 2, settings, torch.Generator().manual_seed(4))
    a = render_images(
        shapes,
        torch.from_numpy(template.faces),
        albedo,
        cams,
        settings,
        torch.Generator().manual_seed(5),
    )
    b = render_images(
        shapes,
        torch.from_numpy(template.faces),
        albedo,
        cams,
        settings,
        torch.Generator().manual_seed(5),
    )
    assert a.dtype == torch.uint8 and a.shape == (3, 2, 3, 32, 32) and torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_render_images_on_cuda_matches_cpu(world):
    """The rasterizer on the GPU, the random draws on the CPU generator: the same
    photographs, up to a grey level where the GPU's float32 rounding lands
    differently."""
    template, shapes, albedo = world
    settings = CameraSettings(image_size=64)
    cams = sample_scene_cameras(3, 4, settings, torch.Generator().manual_seed(4))
    faces = torch.from_numpy(template.faces)
    cpu = render_images(
        shapes, faces, albedo, cams, settings, torch.Generator().manual_seed(5)
    )
    gpu = render_images(
        shapes,
        faces,
        albedo,
        cams,
        settings,
        torch.Generator().manual_seed(5),
        device="cuda",
    )
    assert (
        gpu.device.type == "cpu" and gpu.dtype == torch.uint8 and gpu.shape == cpu.shape
    )
    diff = (gpu.int() - cpu.int()).abs()
    assert (diff > 1).float().mean() < 1e-3, (
        f"{int((diff > 1).sum())} of {diff.numel()} values differ by more than one "
        "grey level"
    )

"""facelib.graphics.render against a slow, obviously correct rasterizer
(:mod:`benchmarks.reference_raster`, also timed by ``make bench``) and hand-computed
scenes."""

import numpy as np
import pytest
import torch

from benchmarks.reference_raster import reference_rasterize
from facelib.geometry import camera
from facelib.graphics.render import RasterSettings, rasterize, render, vertex_normals
from facelib.world.identity import face_shape, sample_identities
from facelib.world.template import build_template


def small_scene(yaw, size=64, dtype=torch.float64):
    template = build_template(columns=31, rows=27)
    shape = torch.from_numpy(
        face_shape(sample_identities(1, np.random.default_rng(4))[0], template)
    ).to(dtype)
    q, t = camera.orbit_pose(torch.tensor([yaw, 8.0, -5.0], dtype=dtype), 520.0)
    K = camera.intrinsics_from_fov(30.0, size, size, dtype=dtype)
    return template, shape, K, q, t


def silhouette_band(tri, depth):
    """Pixels within one pixel of a coverage change or a depth jump of more than 2
    mm."""
    covered = tri >= 0
    d = np.where(covered, depth, 1e9)
    band = np.zeros_like(covered)
    H, W = covered.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted_c = np.roll(np.roll(covered, dy, 0), dx, 1)
            shifted_d = np.roll(np.roll(d, dy, 0), dx, 1)
            band |= (shifted_c != covered) | (np.abs(shifted_d - d) > 2.0)
    return band


@pytest.mark.parametrize("yaw", [0.0, 35.0, -80.0])
def test_matches_the_reference_pixel_by_pixel(yaw):
    template, shape, K, q, t = small_scene(yaw)
    H = W = 64
    frags = rasterize(
        shape[None],
        torch.from_numpy(template.faces),
        K[None],
        q[None],
        t[None],
        RasterSettings((H, W)),
    )
    uv = camera.project(shape, K, q, t).numpy()
    z = camera.model_to_camera(shape, q, t)[:, 2].numpy()
    ref_tri, ref_depth = reference_rasterize(uv, z, template.faces, H, W)
    fast_depth = frags.depth[0].numpy()
    same_cover = frags.mask[0].numpy() == (ref_tri >= 0)
    same_depth = np.where(
        ref_tri >= 0,
        np.abs(np.where(ref_tri >= 0, fast_depth - ref_depth, 0.0)) < 1e-3,
        True,
    )
    equal = same_cover & same_depth
    assert equal.mean() >= 0.995, equal.mean()
    assert (~equal <= silhouette_band(ref_tri, ref_depth)).all(), (
        "differences away from the silhouette"
    )
    assert (ref_tri >= 0).sum() > 500  # the face is really there


def test_frontal_quad_hand_computed():
    # A square 100 mm wide at 500 mm, f = 100 px: it spans 20 px, from x = 22 to 42
    # around the centre 32.
    v = torch.tensor(
        [
            [
                [-50.0, -50.0, 0.0],
                [50.0, -50.0, 0.0],
                [50.0, 50.0, 0.0],
                [-50.0, 50.0, 0.0],
            ]
        ],
        dtype=torch.float64,
    )
    faces = torch.tensor(
        [[0, 3, 2], [0, 2, 1]]
    )  # wound so that the normal points to -z, at the camera
    K = torch.tensor(
        [[[100.0, 0, 32.0], [0, 100.0, 32.0], [0, 0, 1]]], dtype=torch.float64
    )
    q = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64)
    t = torch.tensor([[0.0, 0.0, 500.0]], dtype=torch.float64)
    frags = rasterize(v, faces, K, q, t, RasterSettings((64, 64)))
    mask = frags.mask[0].numpy()
    expected = np.zeros((64, 64), bool)
    expected[22:43, 22:43] = (
        True  # pixel centres 22..42 inclusive lie on or inside the square
    )
    assert np.array_equal(mask, expected)
    assert np.allclose(frags.depth[0].numpy()[mask], 500.0)
    # seen from behind it is culled, or drawn when culling is off
    q_back = camera.yaw_pitch_roll_to_quaternion(
        torch.tensor([[180.0, 0.0, 0.0]], dtype=torch.float64)
    )
    assert not rasterize(v, faces, K, q_back, t).mask.any()
    assert (
        rasterize(
            v, faces, K, q_back, t, RasterSettings((64, 64), cull_backfaces=False)
        )
        .mask[0]
        .numpy()
        .sum()
        == 21 * 21
    )


def test_depth_is_perspective_correct_on_a_tilted_plane():
    # a plane through (0, 0, 0) tilted 40° about y, seen from 400 mm: compare with
    # ray-plane intersection
    g = np.linspace(-60, 60, 9)
    xx, yy = np.meshgrid(g, g)
    R = camera.quaternion_to_matrix(
        camera.yaw_pitch_roll_to_quaternion(
            torch.tensor([40.0, 0.0, 0.0], dtype=torch.float64)
        )
    ).numpy()
    pts = np.stack([xx.ravel(), yy.ravel(), np.zeros(81)], -1) @ R.T
    faces = []
    for r in range(8):
        for c in range(8):
            a, b, cc, d = r * 9 + c, r * 9 + c + 1, (r + 1) * 9 + c, (r + 1) * 9 + c + 1
            faces += [(a, cc, b), (b, cc, d)]
    K = torch.tensor([[80.0, 0, 31.5], [0, 80.0, 31.5], [0, 0, 1]], dtype=torch.float64)
    q = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    t = torch.tensor([0.0, 0.0, 400.0], dtype=torch.float64)
    frags = rasterize(
        torch.from_numpy(pts)[None],
        torch.tensor(faces),
        K[None],
        q[None],
        t[None],
        RasterSettings((64, 64), cull_backfaces=False),
    )
    ys, xs = np.nonzero(frags.mask[0].numpy())
    rays = np.stack(
        [(xs - 31.5) / 80.0, (ys - 31.5) / 80.0, np.ones_like(xs, float)], -1
    )
    n = R @ np.array(
        [0.0, 0.0, 1.0]
    )  # plane normal in the camera frame (R = identity camera rotation)
    depth = (n @ np.array([0.0, 0.0, 400.0])) / (rays @ n)
    np.testing.assert_allclose(frags.depth[0].numpy()[ys, xs], depth, rtol=1e-9)


def test_shading_of_a_lit_quad():
    v = torch.tensor(
        [
            [
                [-50.0, -50.0, 0.0],
                [50.0, -50.0, 0.0],
                [50.0, 50.0, 0.0],
                [-50.0, 50.0, 0.0],
            ]
        ]
    )
    faces = torch.tensor([[0, 3, 2], [0, 2, 1]])
    K = torch.tensor([[[100.0, 0, 32.0], [0, 100.0, 32.0], [0, 0, 1]]])
    q, t = torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[0.0, 0.0, 500.0]])
    albedo = torch.tensor([0.8, 0.5, 0.2]).expand(1, 4, 3)
    bg = torch.full((1, 3, 64, 64), 0.1)
    np.testing.assert_allclose(
        vertex_normals(v, faces)[0].numpy(), [[0, 0, -1.0]] * 4, atol=1e-6
    )
    facing = render(
        v,
        faces,
        albedo,
        K,
        q,
        t,
        torch.tensor([[0.0, 0.0, -1.0]]),
        bg,
        ambient=0.3,
        diffuse=0.6,
    )
    grazing = render(
        v,
        faces,
        albedo,
        K,
        q,
        t,
        torch.tensor([[1.0, 0.0, 0.0]]),
        bg,
        ambient=0.3,
        diffuse=0.6,
    )
    np.testing.assert_allclose(
        facing.images[0, :, 32, 32].numpy(), [0.72, 0.45, 0.18], atol=1e-6
    )
    np.testing.assert_allclose(
        grazing.images[0, :, 32, 32].numpy(), [0.24, 0.15, 0.06], atol=1e-6
    )
    np.testing.assert_allclose(
        facing.images[0, :, 2, 2].numpy(), [0.1, 0.1, 0.1]
    )  # background


def test_batch_is_per_image_and_float32_matches_float64():
    template, shape, K, q, t = small_scene(20.0)
    faces = torch.from_numpy(template.faces)
    q2 = torch.stack(
        [
            q,
            camera.yaw_pitch_roll_to_quaternion(
                torch.tensor([-30.0, 0.0, 0.0], dtype=torch.float64)
            ),
        ]
    )
    both = rasterize(
        shape.expand(2, -1, -1), faces, K.expand(2, 3, 3), q2, t.expand(2, 3)
    )
    one = rasterize(shape[None], faces, K[None], q2[1:], t[None])
    assert torch.equal(both.triangle[1], one.triangle[0])
    f32 = rasterize(
        shape.float()[None], faces, K.float()[None], q.float()[None], t.float()[None]
    )
    f64 = rasterize(shape[None], faces, K[None], q[None], t[None])
    assert (f32.mask == f64.mask).float().mean() > 0.995


def test_render_rejects_bad_backgrounds():
    template, shape, K, q, t = small_scene(0.0)
    faces = torch.from_numpy(template.faces)
    albedo = torch.full((1, template.n_points, 3), 0.5, dtype=torch.float64)
    light = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"background \(B, 3, H, W\)"):
        render(
            shape[None],
            faces,
            albedo,
            K[None],
            q[None],
            t[None],
            light,
            torch.zeros(1, 64, 64, dtype=torch.float64),
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    template, shape, K, q, t = small_scene(30.0, dtype=torch.float32)
    faces = torch.from_numpy(template.faces)
    cpu = rasterize(shape[None], faces, K[None], q[None], t[None])
    gpu = rasterize(
        shape[None].cuda(), faces.cuda(), K[None].cuda(), q[None].cuda(), t[None].cuda()
    )
    assert (gpu.mask.cpu() == cpu.mask).float().mean() > 0.999


def _random_soup(n_tri: int, size: int, seed: int, dtype=torch.float32):
    """A batch of 3 random triangle soups in front of (and some behind) a camera:
    small, large (larger than the 64 px window) and degenerate triangles."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(3, n_tri, 1, 3, generator=g, dtype=dtype)
    centre = (centre - 0.5) * torch.tensor([400.0, 400.0, 300.0], dtype=dtype)
    spread = 30 * torch.exp(torch.randn(3, n_tri, 1, 1, generator=g, dtype=dtype))
    corners = centre + spread * torch.randn(3, n_tri, 3, 3, generator=g, dtype=dtype)
    corners[:, :5, 1] = corners[:, :5, 0]  # degenerate: two equal corners
    vertices = corners.reshape(3, n_tri * 3, 3)
    faces = torch.arange(n_tri * 3).view(n_tri, 3)
    yaw = torch.tensor([0.0, 40.0, -75.0], dtype=dtype)
    q, t = camera.orbit_pose(torch.stack([yaw, yaw * 0, yaw * 0], -1), 500.0)
    K = camera.intrinsics_from_fov(40.0, size, size, dtype=dtype).expand(3, 3, 3)
    return vertices, faces, K, q, t


@pytest.mark.parametrize(
    "size,dtype,cull",
    [
        (64, torch.float32, True),
        (150, torch.float32, False),
        (48, torch.float64, True),
    ],
)
def test_compiled_path_equals_torch_windows_bit_for_bit(size, dtype, cull):
    """The CPU's compiled loop (facelib.graphics.zbuffer) and the vectorised torch
    windows are two implementations of one arithmetic: same triangles, depths and
    barycentrics, bit for bit, on soups with large, degenerate and behind-the-camera
    triangles, and for every thread count."""
    vertices, faces, K, q, t = _random_soup(400, size, seed=size)
    vertices, K, q, t = (x.to(dtype) for x in (vertices, K, q, t))
    torch_path = RasterSettings((size, size), cull_backfaces=cull, backend="torch")
    compiled = RasterSettings((size, size), cull_backfaces=cull)
    ref = rasterize(vertices, faces, K, q, t, torch_path)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            got = rasterize(vertices, faces, K, q, t, compiled)
            assert torch.equal(got.triangle, ref.triangle)
            assert torch.equal(got.depth, ref.depth)
            assert torch.equal(got.bary, ref.bary)
    finally:
        torch.set_num_threads(threads)
    assert ref.mask.float().mean() > 0.1  # the soups really cover the images
    assert (ref.depth[ref.mask] < 0).sum() == 0  # behind-the-camera parts are gone


def test_raster_settings_refuse_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be 'auto' or 'torch'"):
        RasterSettings(backend="opengl")


def test_compiled_path_equals_torch_windows_on_pixel_centred_edges():
    """Triangles whose corners and edges fall exactly on pixel centres (edge functions
    exactly 0 there): both paths claim the same pixels for the shared edges."""
    g = torch.Generator().manual_seed(3)
    corners = torch.randint(0, 40, (2, 300, 3, 2), generator=g).double()
    z = torch.randint(1, 4, (2, 300, 1, 1), generator=g).double().expand(-1, -1, 3, 1)
    # identity camera: a vertex (x z, y z, z) lands on pixel (x, y) exactly
    vertices = torch.cat([corners * z, z], -1).reshape(2, 900, 3)
    faces = torch.arange(900).view(300, 3)
    K = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    q = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64).expand(2, 4)
    t = torch.zeros(2, 3, dtype=torch.float64)
    for cull in (True, False):
        kw = dict(image_size=(40, 40), cull_backfaces=cull)
        ref = rasterize(vertices, faces, K, q, t, RasterSettings(**kw, backend="torch"))
        got = rasterize(vertices, faces, K, q, t, RasterSettings(**kw))
        assert torch.equal(got.triangle, ref.triangle)
        assert torch.equal(got.depth, ref.depth)
        assert torch.equal(got.bary, ref.bary)


def test_vertex_normals_match_an_explicit_sum_over_faces():
    """Unit vertex normals against a slow, obviously correct loop: the sum of the
    cross products of the faces round each vertex, normalised (float64)."""
    template, shape, *_ = small_scene(0.0)
    faces = template.faces
    got = vertex_normals(shape[None], torch.from_numpy(faces))[0].numpy()
    v = shape.numpy()
    sums = np.zeros_like(v)
    for a, b, c in faces:
        n = np.cross(v[b] - v[a], v[c] - v[a])
        for i in (a, b, c):
            sums[i] += n
    want = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-9)

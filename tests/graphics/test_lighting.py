"""facelib.graphics.render's lighting against hand-derived values: the hemisphere
ambient, the Blinn-Phong highlight, shadow maps, textures and clamping.

The scenes are quads 100 mm wide, 500 mm from a camera with a focal length of 100 px
and a 64 x 64 image (as in ``test_render.py``): the quad spans the pixel centres 22 to
42 around the principal point (32, 32).
"""

import math

import numpy as np
import pytest
import torch

from facelib.geometry import camera
from facelib.graphics.render import (
    Lighting,
    light_cameras,
    render,
    shadow_visibility,
    vertex_normals,
)

D = torch.float64
SIZE = 64
K = torch.tensor([[[100.0, 0, 32.0], [0, 100.0, 32.0], [0, 0, 1]]], dtype=D)


def facing(normal, distance=500.0, half=50.0):
    """A square of side ``2 * half`` mm through the origin with the outward unit
    ``normal``, and a camera ``distance`` mm along that normal looking back at the
    origin.

    The camera's rows are x_c, y_c = z_c x x_c and z_c = -normal; the corners are
    ``±half`` along u = x_c and v = -y_c, wound so that (b - a) x (c - a) is along
    u x v = normal. Returns vertices (1, 4, 3), faces (2, 3), q (1, 4), t (1, 3).
    """
    n = torch.nn.functional.normalize(torch.as_tensor(normal, dtype=D), dim=0)
    z_c = -n
    ref = torch.tensor([1.0, 0, 0], dtype=D)
    if abs(float(z_c @ ref)) > 0.9:
        ref = torch.tensor([0, 0, 1.0], dtype=D)
    x_c = torch.nn.functional.normalize(ref - (ref @ z_c) * z_c, dim=0)
    y_c = torch.linalg.cross(z_c, x_c)
    R = torch.stack([x_c, y_c, z_c])
    u, v = half * x_c, -half * y_c
    vertices = torch.stack([-u - v, u - v, u + v, -u + v])[None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    q = camera.matrix_to_quaternion(R)[None]
    t = -(R @ (distance * n))[None]
    return vertices, faces, q, t


def frontal_quad():
    """The quad of ``test_render.py``: z = 0, normal -z, seen from (0, 0, -500)."""
    v = torch.tensor(
        [[[-50.0, -50.0, 0.0], [50.0, -50.0, 0.0], [50.0, 50.0, 0.0], [-50.0, 50, 0]]],
        dtype=D,
    )
    faces = torch.tensor([[0, 3, 2], [0, 2, 1]])
    q = torch.tensor([[1.0, 0, 0, 0]], dtype=D)
    t = torch.tensor([[0.0, 0.0, 500.0]], dtype=D)
    return v, faces, q, t


def lighting(direction, colour, sky, ground, specular=0.0, shininess=1.0, **kw):
    """One image's :class:`Lighting` from plain lists."""

    def row(x):
        return torch.tensor([x], dtype=D)

    return Lighting(
        row(direction),
        row(colour),
        row(sky),
        row(ground),
        row(specular),
        row(shininess),
        **kw,
    )


def background(value=0.0):
    return torch.full((1, 3, SIZE, SIZE), value, dtype=D)


SKY = [0.9, 0.8, 0.7]
GROUND = [0.2, 0.3, 0.1]
ALBEDO = [0.5, 0.6, 0.8]


@pytest.mark.parametrize(
    "normal, up",
    [
        ([0.0, -1.0, 0.0], 1.0),  # facing up (y is down): all sky
        ([0.0, 1.0, 0.0], 0.0),  # facing down: all ground
        ([0.0, 0.0, -1.0], 0.5),  # facing the camera, horizontal: half and half
        ([1.0, 0.0, 0.0], 0.5),  # facing sideways: half and half
        ([0.0, -1.0, -1.0], 0.5 + 0.5 / math.sqrt(2)),  # 45° upwards
        ([0.3, 0.8, -0.5], 0.5 - 0.4 / math.sqrt(0.98)),  # down and to the side
    ],
)
def test_hemisphere_ambient_blends_sky_and_ground(normal, up):
    """With the directional light off (colour 0), every pixel of a flat quad is
    ``albedo * (ground + (sky - ground) * (1 - n_y) / 2)``: sky for a normal pointing
    up (-y), ground for one pointing down, their mean for a vertical surface."""
    v, faces, q, t = facing(normal)
    n = torch.nn.functional.normalize(torch.tensor(normal, dtype=D), dim=0)
    np.testing.assert_allclose(
        vertex_normals(v, faces)[0].numpy(), n.expand(4, 3).numpy(), atol=1e-12
    )
    albedo = torch.tensor(ALBEDO, dtype=D).expand(1, 4, 3)
    light = lighting([0.0, 0.0, -1.0], [0.0] * 3, SKY, GROUND)
    out = render(v, faces, albedo, K, q, t, None, background(0.05), lighting=light)
    mask = out.fragments.mask[0]
    assert mask.sum() > 300
    ambient = np.array(GROUND) + (np.array(SKY) - np.array(GROUND)) * up
    expected = np.array(ALBEDO) * ambient
    pixels = out.images[0].permute(1, 2, 0)[mask].numpy()
    np.testing.assert_allclose(pixels, np.broadcast_to(expected, pixels.shape), 1e-9)
    np.testing.assert_allclose(out.images[0, :, 0, 0].numpy(), [0.05] * 3)


def test_lighting_simple_is_grey_light_without_highlight():
    """``Lighting.simple`` gives white light of the diffuse intensity, the same grey
    sky and ground (so the ambient does not depend on the normal), no highlight and no
    shadows; per-image intensities are kept per image."""
    direction = torch.tensor([[0.0, 0, -1], [1.0, 0, 0]], dtype=D)
    light = Lighting.simple(direction, torch.tensor([0.2, 0.4], dtype=D), 0.7)
    assert torch.equal(light.direction, direction)
    np.testing.assert_allclose(light.colour.numpy(), np.full((2, 3), 0.7))
    np.testing.assert_allclose(light.sky.numpy(), [[0.2] * 3, [0.4] * 3])
    np.testing.assert_allclose(light.ground.numpy(), light.sky.numpy())
    np.testing.assert_allclose(light.specular.numpy(), [0.0, 0.0])
    assert light.shadows is False


def test_light_dir_renders_like_lighting_simple():
    """``render(light_dir, ambient=, diffuse=)`` is ``render(lighting=
    Lighting.simple(...))``, and gives ``albedo * (ambient + diffuse * n . l)``."""
    v, faces, q, t = frontal_quad()
    albedo = torch.tensor([0.8, 0.5, 0.2], dtype=D).expand(1, 4, 3)
    light_dir = torch.tensor([[0.0, -0.6, -0.8]], dtype=D)
    a = render(
        v, faces, albedo, K, q, t, light_dir, background(), ambient=0.3, diffuse=0.6
    )
    b = render(
        v,
        faces,
        albedo,
        K,
        q,
        t,
        None,
        background(),
        lighting=Lighting.simple(light_dir, 0.3, 0.6),
    )
    assert torch.equal(a.images, b.images)
    np.testing.assert_allclose(
        a.images[0, :, 30, 35].numpy(),
        np.array([0.8, 0.5, 0.2]) * (0.3 + 0.6 * 0.8),
        atol=1e-12,
    )


def test_render_needs_a_light():
    """Without ``lighting``, ``light_dir=None`` is refused."""
    v, faces, q, t = frontal_quad()
    albedo = torch.full((1, 4, 3), 0.5, dtype=D)
    with pytest.raises(ValueError, match="light_dir"):
        render(v, faces, albedo, K, q, t, None, background())


# Blinn-Phong ---------------------------------------------------------------------

SPEC_ALBEDO = np.array([0.4, 0.3, 0.2])
SPEC_COLOUR = np.array([0.5, 0.6, 0.7])
AMBIENT = 0.1
SPECULAR = 0.25
SHININESS = 50.0


def specular_scene(gloss=None):
    """The frontal quad lit from the camera's direction, with a highlight."""
    v, faces, q, t = frontal_quad()
    albedo = torch.tensor(SPEC_ALBEDO, dtype=D).expand(1, 4, 3)
    light = lighting(
        [0.0, 0.0, -1.0],
        SPEC_COLOUR.tolist(),
        [AMBIENT] * 3,
        [AMBIENT] * 3,
        SPECULAR,
        SHININESS,
    )
    return render(
        v, faces, albedo, K, q, t, None, background(), lighting=light, gloss=gloss
    ).images[0]


def test_highlight_with_light_and_eye_along_the_normal():
    """At the principal point the light, the eye and the normal coincide: n . l =
    n . h = 1, so the pixel is ``albedo * (ambient + colour) + specular * colour``."""
    image = specular_scene()
    expected = SPEC_ALBEDO * (AMBIENT + SPEC_COLOUR) + SPECULAR * SPEC_COLOUR
    np.testing.assert_allclose(image[:, 32, 32].numpy(), expected, atol=1e-9)


def test_highlight_falls_off_with_the_half_angle():
    """Pixel x = 37 sees the quad point (25, 0, 0) mm; the eye at (0, 0, -500) is an
    angle atan(25 / 500) away from the light (0, 0, -1) there, so n . h is the cosine
    of half that angle and the highlight ``specular * colour * (n . h)^50``."""
    image = specular_scene()
    ndh = math.cos(math.atan(25.0 / 500.0) / 2)
    expected = (
        SPEC_ALBEDO * (AMBIENT + SPEC_COLOUR) + SPECULAR * SPEC_COLOUR * ndh**SHININESS
    )
    np.testing.assert_allclose(image[:, 32, 37].numpy(), expected, atol=1e-9)
    assert ndh**SHININESS < 0.99  # the fall-off is really measured


def test_gloss_scales_the_highlight_per_vertex():
    """``gloss`` 0 at every vertex removes the highlight (only the diffuse part is
    left); 0.5 halves it."""
    matte = specular_scene(torch.zeros(1, 4, dtype=D))
    np.testing.assert_allclose(
        matte[:, 32, 32].numpy(), SPEC_ALBEDO * (AMBIENT + SPEC_COLOUR), atol=1e-9
    )
    half = specular_scene(torch.full((1, 4), 0.5, dtype=D))
    np.testing.assert_allclose(
        half[:, 32, 32].numpy(),
        SPEC_ALBEDO * (AMBIENT + SPEC_COLOUR) + 0.5 * SPECULAR * SPEC_COLOUR,
        atol=1e-9,
    )


def test_no_highlight_on_a_surface_facing_away_from_the_light():
    """A light behind the quad (n . l < 0) gives neither diffuse light nor a
    highlight, even though the half-vector may still face the eye."""
    v, faces, q, t = frontal_quad()
    albedo = torch.tensor(SPEC_ALBEDO, dtype=D).expand(1, 4, 3)
    light = lighting(
        [0.0, 0.6, 0.8], SPEC_COLOUR.tolist(), [AMBIENT] * 3, [AMBIENT] * 3, 1.0, 1.0
    )
    image = render(
        v, faces, albedo, K, q, t, None, background(), lighting=light
    ).images[0]
    np.testing.assert_allclose(
        image[:, 32, 32].numpy(), SPEC_ALBEDO * AMBIENT, atol=1e-12
    )


# clamping ------------------------------------------------------------------------


def test_clamp_false_keeps_linear_values_above_one():
    """A bright light (ambient 0.5, diffuse 2 along the normal) on albedo 0.8 gives
    0.8 * 2.5 = 2 unclamped, 1 clamped; the background is untouched either way."""
    v, faces, q, t = frontal_quad()
    albedo = torch.full((1, 4, 3), 0.8, dtype=D)
    light_dir = torch.tensor([[0.0, 0.0, -1.0]], dtype=D)
    kw = dict(ambient=0.5, diffuse=2.0)
    raw = render(
        v, faces, albedo, K, q, t, light_dir, background(0.2), clamp=False, **kw
    ).images
    clipped = render(v, faces, albedo, K, q, t, light_dir, background(0.2), **kw)
    np.testing.assert_allclose(raw[0, :, 32, 32].numpy(), [2.0] * 3, atol=1e-12)
    np.testing.assert_allclose(clipped.images[0, :, 32, 32].numpy(), [1.0] * 3)
    assert float(clipped.images.max()) == 1.0
    np.testing.assert_allclose(raw[0, :, 0, 0].numpy(), [0.2] * 3)
    np.testing.assert_allclose(clipped.images[0, :, 0, 0].numpy(), [0.2] * 3)


# textures ------------------------------------------------------------------------

# the quad's corners (-50, -50), (50, -50), (50, 50), (-50, 50) are its top-left,
# top-right, bottom-right and bottom-left in the image (y is down); with v up the
# texture then appears upright: uv (0, 1) is the texture's top-left
UV = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]], dtype=D)
TEXELS = torch.tensor(
    [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # top row: red, green
        [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]],  # bottom row: blue, yellow
    ],
    dtype=D,
)  # (2, 2, 3), row 0 at the top as in an image file


def textured(texture):
    """The frontal quad with ``UV`` and ``texture`` (1, 3, Ht, Wt), lit by ambient 1
    only, so the image shows the texture as it is."""
    v, faces, q, t = frontal_quad()
    albedo = torch.full((1, 4, 3), 0.5, dtype=D)  # replaced by the texture
    light = lighting([0.0, 0.0, -1.0], [0.0] * 3, [1.0] * 3, [1.0] * 3)
    return render(
        v,
        faces,
        albedo,
        K,
        q,
        t,
        None,
        background(),
        lighting=light,
        uv=UV,
        texture=texture,
        clamp=False,
    )


@pytest.mark.parametrize(
    "row, col, texel",
    [(27, 27, (0, 0)), (27, 37, (0, 1)), (37, 27, (1, 0)), (37, 37, (1, 1))],
)
def test_texture_quadrants_at_texel_centres(row, col, texel):
    """Pixel k of the quad (k = 22..42) has s = (k - 22) / 20, so pixels 27 and 37 sit
    on the centres (1/4, 3/4) of the 2 x 2 texels and show each texel's colour
    unmixed: the top-left quadrant of the image shows the texture's top-left texel
    (v up: uv (0, 0) is the last row of the image array)."""
    image = textured(TEXELS.permute(2, 0, 1)[None]).images[0]
    np.testing.assert_allclose(
        image[:, row, col].numpy(), TEXELS[texel].numpy(), atol=1e-9
    )


def test_texture_blends_between_texel_centres():
    """Half-way between the texel centres (pixel 32, s = t = 1/2) bilinear filtering
    gives the mean of the four texels."""
    image = textured(TEXELS.permute(2, 0, 1)[None]).images[0]
    np.testing.assert_allclose(
        image[:, 32, 32].numpy(), TEXELS.mean((0, 1)).numpy(), atol=1e-9
    )


def test_texture_edges_keep_the_texel_colour():
    """Beyond the outer texel centres (s or t < 1/4 or > 3/4, here up to the quad's
    edge) the nearest texels are repeated, as with a texture's clamp-to-edge: a
    uniform texture renders uniform over the whole quad, not darkened towards black at
    its border."""
    grey = torch.full((1, 3, 2, 2), 0.6, dtype=D)
    out = textured(grey)
    mask = out.fragments.mask[0]
    pixels = out.images[0].permute(1, 2, 0)[mask].numpy()
    assert mask.sum() == 21 * 21
    np.testing.assert_allclose(pixels, np.full_like(pixels, 0.6), atol=1e-9)


# light cameras and shadow maps ---------------------------------------------------


@pytest.mark.parametrize(
    "direction",
    [[0.3, -0.5, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.2, 0.4], [0.0, 0.0, 1.0]],
)
def test_light_camera_looks_at_the_mesh_and_holds_it(direction):
    """The light's camera sits ``distance`` mm from the centre of the mesh's bounding
    box along +direction, projects that centre to the image centre (size - 1) / 2 and
    every vertex inside [0, size - 1] (also for a light straight above)."""
    gen = torch.Generator().manual_seed(3)
    vertices = torch.randn(1, 200, 3, generator=gen, dtype=D) * torch.tensor(
        [60.0, 80, 40]
    ) + torch.tensor([10.0, -20, 5])
    d = torch.tensor([direction], dtype=D)
    size = 96
    Kl, ql, tl = light_cameras(vertices, d, size, distance=2000.0)
    centre = (vertices.amax(1) + vertices.amin(1)) / 2
    c = (size - 1) / 2
    np.testing.assert_allclose(
        camera.project(centre[:, None], Kl, ql, tl)[0, 0].numpy(), [c, c], atol=1e-9
    )
    uv = camera.project(vertices, Kl, ql, tl)[0].numpy()
    assert (uv >= 0).all() and (uv <= size - 1).all()
    assert (camera.model_to_camera(vertices, ql, tl)[0, :, 2] > 0).all()
    unit = torch.nn.functional.normalize(d, dim=-1)
    np.testing.assert_allclose(
        camera.camera_center(ql, tl).numpy(),
        (centre + 2000.0 * unit).numpy(),
        atol=1e-6,
    )
    # the mesh fills the view: some vertex is near the border
    assert np.abs(uv - c).max() > 0.5 * c


def shadow_scene():
    """A floor 400 mm square at z = 0 and, 50 mm in front of it (towards -z), a square
    occluder 60 mm wide centred on x = y = 0; both face -z. One mesh: (1, 8, 3)."""
    floor = torch.tensor(
        [[-200.0, -200, 0], [200, -200, 0], [200, 200, 0], [-200, 200, 0]], dtype=D
    )
    occluder = torch.tensor(
        [[-30.0, -30, -50], [30, -30, -50], [30, 30, -50], [-30, 30, -50]], dtype=D
    )
    vertices = torch.cat([floor, occluder])[None]
    faces = torch.tensor([[0, 3, 2], [0, 2, 1], [4, 7, 6], [4, 6, 5]])
    return vertices, faces


def test_shadow_visibility_with_the_light_along_the_normal():
    """Light along -z: floor points straight behind the occluder get 0, floor points
    far from it and points on the occluder itself get 1."""
    vertices, faces = shadow_scene()
    points = torch.tensor(
        [
            [0.0, 0, 0],  # behind the occluder's centre
            [10.0, -12, 0],  # behind it, off centre
            [150.0, 150, 0],  # far from it
            [-120.0, 40, 0],
            [0.0, 0, -50],  # on the occluder
            [20.0, -15, -50],
        ],
        dtype=D,
    )
    direction = torch.tensor([[0.0, 0.0, -1.0]], dtype=D)
    lit = shadow_visibility(
        vertices, faces, direction, torch.zeros(6, dtype=torch.long), points
    )
    np.testing.assert_allclose(lit.numpy(), [0, 0, 1, 1, 1, 1])


def test_shadow_visibility_with_an_oblique_light():
    """Light from (1, 0, -1) / sqrt 2: a floor point (x, y, 0) is shadowed when its ray
    to the light meets the occluder's plane z = -50 inside it, at (x + 50, y); so
    (-50, 0, 0) is in shadow and (0, 0, 0), behind the occluder seen head-on, is lit.
    The floor is seen at 45° from the light, and must not shadow itself."""
    vertices, faces = shadow_scene()
    points = torch.tensor(
        [
            [-50.0, 0, 0],
            [-55.0, 10, 0],
            [0.0, 0, 0],
            [60.0, 0, 0],
            [-150.0, 0, 0],
            [-120.0, 100, 0],
            [0.0, 0, -50],
        ],
        dtype=D,
    )
    direction = torch.tensor([[1.0, 0.0, -1.0]], dtype=D) / math.sqrt(2)
    normals = torch.tensor([[0.0, 0.0, -1.0]], dtype=D).expand(7, 3)
    lit = shadow_visibility(
        vertices,
        faces,
        direction,
        torch.zeros(7, dtype=torch.long),
        points,
        normals=normals,
    )
    np.testing.assert_allclose(lit.numpy(), [0, 0, 1, 1, 1, 1, 1])


def test_shadow_visibility_is_per_mesh():
    """Three meshes in one batch, each point tested against its own mesh's shadow map
    (``batch``): the scene, the scene with its occluder moved to x = +100 mm (both lit
    along -z), and the scene turned 90° about y, (x, y, z) -> (z, y, -x), lit along its
    turned normal -x."""
    vertices, faces = shadow_scene()
    moved = vertices.clone()
    moved[0, 4:, 0] += 100.0
    turned = vertices[..., [2, 1, 0]] * torch.tensor([1.0, 1.0, -1.0], dtype=D)
    direction = torch.tensor([[0.0, 0, -1], [0.0, 0, -1], [-1.0, 0, 0]], dtype=D)
    points = torch.tensor(
        [
            [0.0, 0, 0],
            [100.0, 0, 0],
            [0.0, 0, 0],
            [100.0, 0, 0],
            [0.0, 0, 0],
            [0.0, 0, -100],
        ],
        dtype=D,
    )
    batch = torch.tensor([0, 0, 1, 1, 2, 2])
    lit = shadow_visibility(
        torch.cat([vertices, moved, turned]), faces, direction, batch, points
    )
    np.testing.assert_allclose(lit.numpy(), [0, 1, 1, 0, 0, 1])


def test_rendered_shadow_removes_only_the_directional_light():
    """``Lighting(shadows=True)`` end to end: seen head-on, the floor beside the
    occluder where its shadow falls (x = -60 mm, pixel 20) keeps only the ambient
    light, the other side (x = +60 mm, pixel 44) gets ``ambient + colour * n . l``
    with n . l = 1 / sqrt 2; without shadows both sides are lit."""
    vertices, faces = shadow_scene()
    q = torch.tensor([[1.0, 0, 0, 0]], dtype=D)
    t = torch.tensor([[0.0, 0.0, 500.0]], dtype=D)
    albedo = torch.full((1, 8, 3), 0.5, dtype=D)
    direction = [1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)]
    images = {}
    for shadows in (True, False):
        light = lighting(direction, [0.8] * 3, [0.2] * 3, [0.2] * 3, shadows=shadows)
        images[shadows] = render(
            vertices, faces, albedo, K, q, t, None, background(), lighting=light
        ).images[0]
    lit = 0.5 * (0.2 + 0.8 / math.sqrt(2))
    np.testing.assert_allclose(images[True][:, 32, 20].numpy(), [0.1] * 3, atol=1e-9)
    np.testing.assert_allclose(images[True][:, 32, 44].numpy(), [lit] * 3, atol=1e-9)
    np.testing.assert_allclose(images[False][:, 32, 20].numpy(), [lit] * 3, atol=1e-9)

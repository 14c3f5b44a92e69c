"""A batched z-buffer rasterizer for triangle meshes in PyTorch (CPU and CUDA), with
per-pixel shading, highlights and cast shadows.

Why hand-written: PyTorch3D has no wheels for current torch, nvdiffrast is CUDA-only and
GL-based renderers need system libraries (see the design notes). The data set needs
images, not gradients, so this renderer is not differentiable.

How it works, for B meshes (one per image) that share one triangle list:

1. Vertices go to the camera frame and to pixels as in
   :func:`facelib.geometry.camera.project`; pixel centres sit at integer coordinates
   (see :mod:`facelib.geometry.camera`).
2. **Coverage.** Each triangle is tested against the pixel centres inside its bounding
   box. Triangles are grouped by bounding-box size so that each group tests a fixed ``S
   x S`` window per triangle, fully vectorised. A pixel centre is covered when all three
   edge functions are >= 0 (so pixels on a shared edge may be claimed by both triangles;
   the depth test picks one).
3. **Depth test.** Each (pixel, triangle) candidate gets a 64-bit key ``depth_in_µm <<
   24 | triangle`` and ``scatter_reduce(amin)`` keeps the nearest per pixel; ties go to
   the lower triangle id.
4. **Shading**, per pixel (:func:`shade`): the winning triangle's perspective-correct
   barycentrics interpolate its corners' position, normal and albedo (or texture
   coordinates); the light (:class:`Lighting`) is an ambient environment brighter from
   above than below, a dominant coloured light with a Blinn-Phong highlight, and its
   cast shadows from a shadow map (the meshes rasterized once more from the light).

Conventions: images are ``(B, 3, H, W)`` float in [0, 1]; vertices ``(B, P, 3)`` in mm,
model frame; cameras ``K (B, 3, 3)``, ``q (B, 4)``, ``t (B, 3)``; light directions ``(B,
3)`` in the *model* frame, pointing from the face towards the light.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from facelib.geometry.camera import (
    camera_center,
    matrix_to_quaternion,
    model_to_camera,
    quaternion_to_matrix,
)

__all__ = [
    "RasterSettings",
    "Fragments",
    "rasterize",
    "vertex_normals",
    "Lighting",
    "light_cameras",
    "shadow_visibility",
    "shade",
    "render",
    "RenderedImages",
]

_TRI_BITS = 24
_DEPTH_SCALE = 1000.0  # depth keys in µm
_FAR_KEY = torch.iinfo(torch.int64).max


@dataclass(frozen=True)
class RasterSettings:
    """image_size: (height, width) in pixels. cull_backfaces: drop triangles facing away
    from the camera (the mesh's winding must make normals point outwards). max_window:
    the largest bounding box (pixels) tested per triangle; larger triangles are split
    into windows of that size."""

    image_size: tuple[int, int] = (128, 128)
    cull_backfaces: bool = True
    max_window: int = 64
    #: ``"auto"``: the compiled loop (:mod:`facelib.graphics.zbuffer`) on the CPU, the
    #: vectorised torch windows elsewhere; ``"torch"``: the torch windows everywhere
    #: (the same keys bit for bit, several times slower on a CPU)
    backend: str = "auto"

    def __post_init__(self):
        if self.backend not in ("auto", "torch"):
            raise ValueError(
                f"RasterSettings.backend must be 'auto' or 'torch', got "
                f"{self.backend!r}"
            )


@dataclass
class Fragments:
    """What the rasterizer found per pixel.

    triangle: id of the nearest triangle, (B, H, W) int64, -1 where no triangle covers
    the pixel.
    depth: camera-frame z of that point in mm, (B, H, W), +inf where empty.
    bary: perspective-correct barycentric coordinates, (B, H, W, 3), zero where empty.
    """

    triangle: torch.Tensor
    depth: torch.Tensor
    bary: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool: pixels covered by the mesh."""
        return self.triangle >= 0


def _edge(ax, ay, bx, by, px, py):
    """Twice the signed area of (a, b, p): > 0 when p is to the left of a->b in image
    coordinates."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def rasterize(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    settings: RasterSettings = RasterSettings(),
) -> Fragments:
    """Z-buffer rasterization of B meshes with shared faces ``(F, 3)`` through B
    cameras; see the module doc."""
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"expected vertices (B, P, 3), got {tuple(vertices.shape)}")
    if faces.dim() != 2 or faces.shape[-1] != 3 or faces.shape[0] >= 2**_TRI_BITS:
        raise ValueError(
            f"expected faces (F, 3) with F < 2^{_TRI_BITS}, got {tuple(faces.shape)}"
        )
    B, P, _ = vertices.shape
    H, W = settings.image_size
    device = vertices.device
    faces = faces.to(device=device, dtype=torch.long)
    cam = model_to_camera(vertices, q, t)  # (B, P, 3)
    uvw = cam @ K.transpose(
        -1, -2
    )  # Eq. 4 on the camera-frame points (project() would transform them again)
    uv = uvw[..., :2] / uvw[..., 2:3]  # (B, P, 2)
    if settings.backend == "auto" and device.type == "cpu":
        from facelib.graphics.zbuffer import rasterize_compiled

        tri, depth, bary = rasterize_compiled(
            uv, cam[..., 2], faces, (H, W), settings.cull_backfaces, _DEPTH_SCALE,
            _FAR_KEY,
        )  # fmt: skip
        return Fragments(triangle=tri, depth=depth, bary=bary)
    tri_uv = uv[:, faces]  # (B, F, 3, 2)
    tri_z = cam[:, faces, 2]  # (B, F, 3)
    ax, ay = tri_uv[..., 0, 0], tri_uv[..., 0, 1]
    bx, by = tri_uv[..., 1, 0], tri_uv[..., 1, 1]
    cx, cy = tri_uv[..., 2, 0], tri_uv[..., 2, 1]
    area = _edge(
        ax, ay, bx, by, cx, cy
    )  # (B, F); < 0 for a triangle that faces the camera (outward winding)
    keep = (tri_z > 1e-3).all(-1) & (area.abs() > 1e-12)
    if settings.cull_backfaces:
        keep &= area < 0
    zbuf = _windows(tri_uv, tri_z, area, keep, H, W, settings.max_window)
    covered = zbuf != _FAR_KEY
    tri = torch.where(
        covered, zbuf & ((1 << _TRI_BITS) - 1), torch.full_like(zbuf, -1)
    ).view(B, H, W)
    bary, depth = _barycentrics(tri, tri_uv, tri_z, H, W)
    return Fragments(triangle=tri, depth=depth, bary=bary)


def _windows(tri_uv, tri_z, area, keep, H, W, max_window):
    """The z-buffer keys (B * H * W,) int64 of the kept triangles, vectorised in torch:
    triangles grouped by box size, each group testing a fixed window per triangle."""
    B = tri_uv.shape[0]
    device = tri_uv.device
    b_idx, f_idx = keep.nonzero(as_tuple=True)
    uv_kept = tri_uv[b_idx, f_idx]  # (N, 3, 2)
    lo_xy, hi_xy = uv_kept.amin(1), uv_kept.amax(1)  # (N, 2)
    on_screen = (
        (hi_xy[:, 0] >= 0)
        & (lo_xy[:, 0] <= W - 1)
        & (hi_xy[:, 1] >= 0)
        & (lo_xy[:, 1] <= H - 1)
    )
    x0 = torch.ceil(lo_xy[:, 0]).clamp(0, W - 1)
    x1 = torch.floor(hi_xy[:, 0]).clamp(0, W - 1)
    y0 = torch.ceil(lo_xy[:, 1]).clamp(0, H - 1)
    y1 = torch.floor(hi_xy[:, 1]).clamp(0, H - 1)
    on_screen &= (x1 >= x0) & (y1 >= y0)
    b_idx, f_idx = b_idx[on_screen], f_idx[on_screen]
    x0, y0, x1, y1 = (
        x0[on_screen].long(),
        y0[on_screen].long(),
        x1[on_screen].long(),
        y1[on_screen].long(),
    )
    size = torch.maximum(x1 - x0, y1 - y0) + 1

    zbuf = torch.full((B * H * W,), _FAR_KEY, dtype=torch.int64, device=device)
    previous = 0
    window = 1
    while (
        previous < max_window
    ):  # size classes (previous, window]: 1, 2, 4, ... max_window
        window = min(2 * previous if previous else 1, max_window)
        sel = ((size > previous) & (size <= window)).nonzero(as_tuple=True)[0]
        if sel.numel():
            _splat(
                zbuf,
                b_idx[sel],
                f_idx[sel],
                x0[sel],
                y0[sel],
                window,
                size[sel],
                tri_uv,
                tri_z,
                area,
                H,
                W,
            )
        previous = window
    sel = (size > max_window).nonzero(as_tuple=True)[0]
    if sel.numel():  # very large triangles: tile their boxes with max_window windows
        n_tiles = int(torch.ceil(size[sel].max() / max_window).item())
        for ty in range(n_tiles):
            for tx in range(n_tiles):
                _splat(
                    zbuf,
                    b_idx[sel],
                    f_idx[sel],
                    x0[sel] + tx * max_window,
                    y0[sel] + ty * max_window,
                    max_window,
                    size[sel],
                    tri_uv,
                    tri_z,
                    area,
                    H,
                    W,
                    origin=(x0[sel], y0[sel]),
                )

    return zbuf


def _splat(
    zbuf, b_idx, f_idx, x0, y0, window, size, tri_uv, tri_z, area, H, W, origin=None
):
    """Depth-test every pixel centre of a ``window x window`` box per triangle into
    ``zbuf`` (in place)."""
    offs = torch.arange(window, device=zbuf.device)
    px = (x0[:, None, None] + offs[None, None, :]).expand(
        -1, window, window
    )  # (N, wy, wx)
    py = (y0[:, None, None] + offs[None, :, None]).expand(-1, window, window)
    ox, oy = (x0, y0) if origin is None else origin
    inside_box = (px - ox[:, None, None] < size[:, None, None]) & (
        py - oy[:, None, None] < size[:, None, None]
    )
    inside_box &= (px < W) & (py < H)
    uvt = tri_uv[b_idx, f_idx]  # (N, 3, 2)
    sign = torch.sign(area[b_idx, f_idx])[:, None, None]
    pxf, pyf = px.to(uvt.dtype), py.to(uvt.dtype)
    ex = [
        _edge(
            uvt[:, i, 0, None, None],
            uvt[:, i, 1, None, None],
            uvt[:, j, 0, None, None],
            uvt[:, j, 1, None, None],
            pxf,
            pyf,
        )
        * sign
        for i, j in ((1, 2), (2, 0), (0, 1))
    ]
    inside = inside_box & (ex[0] >= 0) & (ex[1] >= 0) & (ex[2] >= 0)
    n, yy, xx = inside.nonzero(as_tuple=True)
    if n.numel() == 0:
        return
    # depth at the pixel: screen-space barycentrics w_i = e_i / area, then 1/z
    # interpolates linearly
    a = area[b_idx[n], f_idx[n]].abs()
    w = torch.stack([e[n, yy, xx] for e in ex], -1) / a[:, None]
    inv_z = (w / tri_z[b_idx[n], f_idx[n]]).sum(-1)
    depth_key = (1.0 / inv_z * _DEPTH_SCALE).round().to(torch.int64)
    key = (depth_key << _TRI_BITS) | f_idx[n]
    pix = (b_idx[n] * H + py[n, yy, xx]) * W + px[n, yy, xx]
    zbuf.scatter_reduce_(0, pix, key, reduce="amin")


def _barycentrics(tri, tri_uv, tri_z, H, W):
    """Perspective-correct barycentrics (B, H, W, 3) and depth (B, H, W) of each pixel's
    triangle."""
    B = tri.shape[0]
    device = tri.device
    bary = torch.zeros(B, H, W, 3, dtype=tri_uv.dtype, device=device)
    depth = torch.full((B, H, W), float("inf"), dtype=tri_uv.dtype, device=device)
    b, y, x = (tri >= 0).nonzero(as_tuple=True)
    if b.numel() == 0:
        return bary, depth
    f = tri[b, y, x]
    uvt = tri_uv[b, f]
    px, py = x.to(uvt.dtype), y.to(uvt.dtype)
    e = torch.stack(
        [
            _edge(uvt[:, i, 0], uvt[:, i, 1], uvt[:, j, 0], uvt[:, j, 1], px, py)
            for i, j in ((1, 2), (2, 0), (0, 1))
        ],
        -1,
    )
    w = e / e.sum(-1, keepdim=True)  # screen-space barycentrics
    wz = w / tri_z[b, f]
    inv_z = wz.sum(-1)
    bary[b, y, x] = wz / inv_z[:, None]
    depth[b, y, x] = 1.0 / inv_z
    return bary, depth


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit vertex normals (B, P, 3): the area-weighted sum of the adjacent face
    normals."""
    faces = faces.to(device=vertices.device, dtype=torch.long)
    if vertices.device.type == "cpu":
        from facelib.graphics.zbuffer import normal_sums_compiled

        return torch.nn.functional.normalize(
            normal_sums_compiled(vertices, faces), dim=-1
        )
    B, P, _ = vertices.shape
    v = vertices[:, faces]  # (B, F, 3, 3)
    fn = torch.cross(
        v[:, :, 1] - v[:, :, 0], v[:, :, 2] - v[:, :, 0], dim=-1
    )  # area-weighted
    # accumulate along the first dimension (contiguous rows): (P, B * 3), every face's
    # first corner, then every second, then every third
    fn_rows = fn.permute(1, 0, 2).reshape(-1, B * 3)
    n = torch.zeros(P, B * 3, dtype=vertices.dtype, device=vertices.device)
    for corner in range(3):
        n.index_add_(0, faces[:, corner], fn_rows)
    return torch.nn.functional.normalize(n.view(P, B, 3).permute(1, 0, 2), dim=-1)


@dataclass
class Lighting:
    """The light of B images, in the model frame; intensities in linear RGB.

    direction: (B, 3) unit vectors from the face towards the dominant light.
    colour: (B, 3) that light's intensity per channel (its colour temperature).
    sky, ground: (B, 3) the ambient light arriving from above (-y) and from below
    (+y); a surface's ambient light blends the two by its normal's vertical component
    (a first-order spherical-harmonic environment).
    specular: (B,) the strength of the dominant light's highlight (Blinn-Phong) and
    shininess: (B,) its exponent.
    shadows: whether the dominant light casts shadows (a shadow map, see
    :func:`shadow_visibility`); shadow_quantile: the share of the vertices the map
    frames (:func:`light_cameras`).
    """

    direction: torch.Tensor
    colour: torch.Tensor
    sky: torch.Tensor
    ground: torch.Tensor
    specular: torch.Tensor
    shininess: torch.Tensor
    shadows: bool = False
    shadow_quantile: float = 1.0

    @classmethod
    def simple(
        cls,
        direction: torch.Tensor,
        ambient: torch.Tensor | float,
        diffuse: torch.Tensor | float,
    ) -> "Lighting":
        """White light from ``direction`` (B, 3) with grey ambient and diffuse
        intensities (floats or (B,)), no highlight and no shadows."""
        B = direction.shape[0]
        opts = dict(dtype=direction.dtype, device=direction.device)
        amb = torch.as_tensor(ambient, **opts).expand(B)[:, None].expand(B, 3)
        dif = torch.as_tensor(diffuse, **opts).expand(B)[:, None].expand(B, 3)
        zero = torch.zeros(B, **opts)
        return cls(direction, dif, amb, amb, zero, zero + 1.0)

    def to(self, device) -> "Lighting":
        move = lambda x: x.to(device)  # noqa: E731
        return Lighting(
            *(move(x) for x in (self.direction, self.colour, self.sky, self.ground)),
            move(self.specular),
            move(self.shininess),
            self.shadows,
            self.shadow_quantile,
        )


def light_cameras(
    vertices: torch.Tensor,
    direction: torch.Tensor,
    size: int,
    distance: float = 3000.0,
    quantile: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cameras that look at B meshes (B, P, 3) from their lights: placed ``distance``
    mm from the mesh's centre along ``direction`` (B, 3), pointing back at it, with a
    field of view that holds the mesh in ``size`` x ``size`` pixels (nearly
    orthographic at that distance). With ``quantile`` < 1 the view holds that share
    of the vertices round their median, not the outliers (a head's shoulders), and
    spends the map's pixels where the shadows that show are. Returns K (B, 3, 3), q
    (B, 4), t (B, 3)."""
    if quantile < 1.0:
        centre = vertices.median(dim=1).values
        radius = torch.quantile((vertices - centre[:, None]).norm(dim=-1), quantile, 1)
    else:
        centre = (vertices.amax(1) + vertices.amin(1)) / 2  # (B, 3)
        radius = (vertices - centre[:, None]).norm(dim=-1).amax(1)  # (B,)
    z_axis = -torch.nn.functional.normalize(direction, dim=-1)
    up = torch.zeros_like(z_axis)
    up[:, 1] = 1.0
    # a light straight above or below: take x as the reference instead
    up[z_axis[:, 1].abs() > 0.99] = torch.tensor(
        [1.0, 0.0, 0.0], dtype=up.dtype, device=up.device
    )
    y_axis = torch.nn.functional.normalize(
        up - (up * z_axis).sum(-1, keepdim=True) * z_axis, dim=-1
    )
    x_axis = torch.cross(y_axis, z_axis, dim=-1)
    R = torch.stack([x_axis, y_axis, z_axis], dim=-2)  # rows: the camera's axes
    eye = centre + distance * (-z_axis)
    t = -(R @ eye[..., None])[..., 0]
    focal = (size / 2 - 1) * (distance - radius) / radius
    K = torch.zeros(
        vertices.shape[0], 3, 3, dtype=vertices.dtype, device=vertices.device
    )
    K[:, 0, 0] = K[:, 1, 1] = focal
    K[:, 0, 2] = K[:, 1, 2] = (size - 1) / 2
    K[:, 2, 2] = 1.0
    return K, matrix_to_quaternion(R), t


def shadow_visibility(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    direction: torch.Tensor,
    batch: torch.Tensor,
    points: torch.Tensor,
    *,
    normals: torch.Tensor | None = None,
    size: int = 128,
    bias_mm: float = 3.0,
    normal_offset_mm: float = 4.0,
    quantile: float = 1.0,
) -> torch.Tensor:
    """How much of the light reaches each of N surface points (N,) in [0, 1].

    A shadow map: the meshes (B, P, 3) are rasterized from their lights
    (:func:`light_cameras`, ``size`` pixels); a point (``points`` (N, 3) on mesh
    ``batch`` (N,)) is lit where its depth from the light is within ``bias_mm`` of the
    nearest surface the light sees there. The 2 x 2 nearest map pixels are averaged
    (percentage-closer filtering) to soften the shadow's edge. Given the points' unit
    ``normals`` (N, 3), each point is first moved ``normal_offset_mm`` along its normal,
    so that a surface seen at a grazing angle from the light does not shadow itself
    (one map pixel spans several mm of depth there).
    """
    if normals is not None:
        points = points + normal_offset_mm * normals
    K, q, t = light_cameras(vertices, direction, size, quantile=quantile)
    fragments = rasterize(
        vertices, faces, K, q, t, RasterSettings(image_size=(size, size))
    )
    # the rotation per image, then per point (one matrix per point would cost N
    # quaternion conversions); the same arithmetic as model_to_camera
    R = quaternion_to_matrix(q)[batch]  # (N, 3, 3)
    cam = (points[:, None, :] @ R.transpose(-1, -2) + t[batch][:, None, :])[:, 0]
    u = cam[:, 0] * K[batch, 0, 0] / cam[:, 2] + K[batch, 0, 2]
    v = cam[:, 1] * K[batch, 1, 1] / cam[:, 2] + K[batch, 1, 2]
    lit = torch.zeros_like(u)
    u0, v0 = torch.floor(u).long(), torch.floor(v).long()
    for du in (0, 1):
        for dv in (0, 1):
            uu = (u0 + du).clamp(0, size - 1)
            vv = (v0 + dv).clamp(0, size - 1)
            nearest = fragments.depth[batch, vv, uu]
            lit += (cam[:, 2] <= nearest + bias_mm).to(lit.dtype)
    # points the map does not cover (outside a quantile's view) are lit
    outside = (u < 0) | (v < 0) | (u > size - 1) | (v > size - 1)
    return torch.where(outside, torch.ones_like(lit), lit / 4)


def shade(
    fragments: Fragments,
    faces: torch.Tensor,
    vertices: torch.Tensor,
    albedo: torch.Tensor,
    normals: torch.Tensor,
    lighting: Lighting,
    eye: torch.Tensor,
    background: torch.Tensor,
    *,
    gloss: torch.Tensor | None = None,
    uv: torch.Tensor | None = None,
    texture: torch.Tensor | None = None,
    shadow_faces: torch.Tensor | None = None,
) -> torch.Tensor:
    """Shade the rasterized pixels over ``background``, per pixel.

    At each covered pixel the perspective-correct barycentrics interpolate the
    position, the normal (renormalised) and the albedo of its triangle's corners; the
    colour is ``albedo * (ambient(n) + colour * max(0, n . l) * lit) + specular *
    gloss * colour * max(0, n . h)^shininess * lit`` (:class:`Lighting`; ``h`` the
    half-vector between the light and the direction to the eye; ``lit`` the shadow
    map's visibility, 1 without shadows). Not clamped: the camera's pipeline decides
    how highlights saturate.

    Args:
        vertices: (B, P, 3) mm and normals: unit vertex normals (B, P, 3), model frame.
        albedo: per-vertex colour (B, P, 3), linear RGB in [0, 1]; replaced by the
            ``texture`` (B, 3, Ht, Wt) sampled at the interpolated ``uv`` (P, 2) in
            [0, 1] (v up, as in OBJ files) where both are given.
        gloss: (B, P) per-vertex multiplier of the highlight (default 1).
        shadow_faces: the triangles that cast shadows (default: ``faces``); a coarser
            set makes the shadow map cheaper.
        eye: (B, 3) the camera centres in the model frame, mm.
        background: (B, 3, H, W).

    Returns:
        images (B, 3, H, W), linear RGB (not clamped).
    """
    faces = faces.to(device=albedo.device, dtype=torch.long)
    image = background.permute(0, 2, 3, 1).clone()  # (B, H, W, 3)
    b, y, x = fragments.mask.nonzero(as_tuple=True)
    if b.numel() == 0:
        return image.permute(0, 3, 1, 2)
    corner = faces[fragments.triangle[b, y, x]]  # (N, 3)
    w = fragments.bary[b, y, x].to(albedo.dtype)[..., None]  # (N, 3, 1)
    interp = lambda attr: (w * attr[b[:, None], corner]).sum(1)  # noqa: E731
    n = torch.nn.functional.normalize(interp(normals), dim=-1)
    pos = interp(vertices)
    if texture is not None and uv is not None:
        st = (w * uv.to(albedo)[corner]).sum(1)  # (N, 2)
        grid = torch.stack([st[:, 0] * 2 - 1, 1 - st[:, 1] * 2], -1)
        a = torch.empty(b.shape[0], 3, dtype=albedo.dtype, device=albedo.device)
        for k in b.unique():
            sel = b == k
            sample = torch.nn.functional.grid_sample(
                texture[k : k + 1].to(albedo.dtype),
                grid[sel][None, None],
                mode="bilinear",
                padding_mode="border",
                align_corners=False,
            )  # (1, 3, 1, M)
            a[sel] = sample[0, :, 0].T
    else:
        a = interp(albedo)
    L = lighting
    light = L.direction.to(albedo.dtype)[b]
    ndl = (n * light).sum(-1).clamp_min(0.0)
    up = (-n[:, 1] * 0.5 + 0.5)[:, None]
    ambient = L.ground[b] + (L.sky[b] - L.ground[b]) * up
    lit = torch.ones_like(ndl)
    if L.shadows:
        casters = faces if shadow_faces is None else shadow_faces.to(faces)
        lit = shadow_visibility(
            vertices,
            casters,
            L.direction.to(vertices),
            b,
            pos,
            normals=n,
            size=96,
            quantile=L.shadow_quantile,
        )
    colour = L.colour[b].to(albedo.dtype)
    out = a * (ambient + colour * (ndl * lit)[:, None])
    strength = L.specular[b].to(albedo.dtype)
    if bool((strength > 0).any()):
        view = torch.nn.functional.normalize(eye.to(albedo.dtype)[b] - pos, dim=-1)
        half = torch.nn.functional.normalize(light + view, dim=-1)
        ndh = (n * half).sum(-1).clamp_min(0.0)
        g = interp(gloss[..., None])[:, 0] if gloss is not None else 1.0
        highlight = strength * g * ndh ** L.shininess[b] * (ndl > 0) * lit
        out = out + colour * highlight[:, None]
    image[b, y, x] = out.to(image.dtype)
    return image.permute(0, 3, 1, 2)


@dataclass
class RenderedImages:
    """images (B, 3, H, W), in [0, 1] unless rendered with ``clamp=False``; fragments
    as rasterized."""

    images: torch.Tensor
    fragments: Fragments


def render(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    albedo: torch.Tensor,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    light_dir: torch.Tensor | None,
    background: torch.Tensor,
    *,
    ambient: torch.Tensor | float = 0.35,
    diffuse: torch.Tensor | float = 0.75,
    lighting: Lighting | None = None,
    gloss: torch.Tensor | None = None,
    uv: torch.Tensor | None = None,
    texture: torch.Tensor | None = None,
    shadow_faces: torch.Tensor | None = None,
    settings: RasterSettings | None = None,
    clamp: bool = True,
) -> RenderedImages:
    """Rasterize and shade B meshes: the one call the data set uses. Shapes as in
    :func:`shade`. The light is ``lighting`` or, without it, white light from
    ``light_dir`` with ``ambient`` and ``diffuse`` intensities
    (:meth:`Lighting.simple`). ``clamp``: clip the images to [0, 1] (turn it off to
    keep linear values for a camera pipeline)."""
    if background.dim() != 4 or background.shape[1] != 3:
        raise ValueError(
            f"expected background (B, 3, H, W), got {tuple(background.shape)}"
        )
    settings = settings or RasterSettings(image_size=tuple(background.shape[-2:]))
    if tuple(background.shape[-2:]) != tuple(settings.image_size):
        raise ValueError(
            f"background {tuple(background.shape[-2:])} does not match image_size "
            f"{settings.image_size}"
        )
    if lighting is None:
        if light_dir is None:
            raise ValueError("give either light_dir or lighting")
        lighting = Lighting.simple(light_dir, ambient, diffuse)
    fragments = rasterize(vertices, faces, K, q, t, settings)
    normals = vertex_normals(vertices, faces)
    images = shade(
        fragments,
        faces,
        vertices,
        albedo,
        normals,
        lighting,
        camera_center(q, t),
        background,
        gloss=gloss,
        uv=uv,
        texture=texture,
        shadow_faces=shadow_faces,
    )
    if clamp:
        images = images.clamp(0.0, 1.0)
    return RenderedImages(images=images, fragments=fragments)


def measure_throughput(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    image_size: int,
    *,
    batch: int = 64,
    repeats: int = 3,
    fov_deg: float = 30.0,
    distance_mm: float = 600.0,
) -> float:
    """Images per second of :func:`render` for ``batch`` copies of one mesh (P, 3) seen
    from yaws spread over -90°..90°: the best of ``repeats`` timed calls (after one
    warm-up call)."""
    import time

    from facelib.geometry.camera import intrinsics_from_fov, orbit_pose

    v = vertices.float().expand(batch, -1, -1)
    yaw = torch.linspace(-90.0, 90.0, batch)
    q, t = orbit_pose(
        torch.stack([yaw, torch.zeros(batch), torch.zeros(batch)], -1), distance_mm
    )
    K = intrinsics_from_fov(fov_deg, image_size, image_size).expand(batch, 3, 3)
    albedo = torch.full_like(v, 0.7)
    light = torch.tensor([[0.3, -0.4, -1.0]]).expand(batch, 3)
    bg = torch.zeros(batch, 3, image_size, image_size)
    best = float("inf")
    for k in range(repeats + 1):
        start = time.perf_counter()
        render(v, faces, albedo, K, q, t, light, bg)
        if k:
            best = min(best, time.perf_counter() - start)
    return batch / best

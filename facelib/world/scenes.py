"""Photographs of the synthetic faces with known cameras: training scenes and 3DFAW-like
captures.

Cameras are one phone's: a pinhole camera with a 30° field of view held 420-720 mm from
the head. Every photograph is then framed as a face detector frames a real one
(:func:`frame_faces`): a square box round the face's 68 landmarks, moved and scaled by
a detector's jitter, widened by a fixed margin (:mod:`facelib.geometry.framing`) and
resampled to the network's size. The crop is rendered directly with its own intrinsics
``K`` (a crop of a pinhole photograph is a pinhole photograph), so the face fills about
the same share of every photograph whatever the distance, and ``K`` (known for every
crop, ours or a real photograph's) tells the distance. A training scene holds ``V``
views of one subject spread over the whole yaw range (-90° to 90°, one view per yaw
sector), with some pitch and roll; each has its own light and background, and sensor
noise. Ground truth: ``K, q, t`` per view (:mod:`facelib.geometry.camera`) and the
shape.

Test captures imitate 3DFAW-2019's videos: ``orbit``, a hand-held camera circling the
head (the light fixed in the world, so fixed on the face), and ``turn``, a static camera
with the subject turning the head from one side to the other (the light fixed in the
world, so it moves over the face as the head turns).

Whole-scene mirroring (:func:`mirror_scene`) flips the image, mirrors the camera and the
shape
consistently: the paper's "fully symmetrized" augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from facelib.geometry.camera import (
    intrinsics_from_fov,
    orbit_pose,
    project,
    quaternion_to_matrix,
)
from facelib.geometry.framing import (
    Framing,
    crop_intrinsics,
    framed_crops,
    landmark_boxes,
)
from facelib.graphics.render import Lighting, RasterSettings, rasterize, render
from facelib.parallel import process_map
from facelib.world.appearance import random_lighting
from facelib.world.photo import PhotoSettings, develop
from facelib.world.places import place_backgrounds, srgb_to_linear

__all__ = [
    "CameraSettings",
    "Cameras",
    "sample_scene_cameras",
    "sample_capture_cameras",
    "orbit_cameras",
    "Heads",
    "LIGHT_FIELDS",
    "frame_faces",
    "render_images",
    "landmark_consistency",
]


@dataclass(frozen=True)
class CameraSettings:
    """Distributions of the cameras. Angles in degrees, lengths in mm, sizes in
    pixels."""

    image_size: int = 64
    fov_deg: float = 30.0
    distance_mm: tuple[float, float] = (420.0, 720.0)
    pitch_std_deg: float = 10.0
    roll_std_deg: float = 5.0
    max_yaw_deg: float = 90.0
    #: the crop round the landmarks' box (:class:`~facelib.geometry.framing.Framing`):
    #: at the middle distance it frames the face as the uncropped 30° photograph did
    crop_margin: float = 2.05
    crop_shift: tuple[float, float] = (0.0, -0.11)
    #: a detector's jitter: the box's centre (std, box sides) and its log side (std)
    crop_centre_jitter: float = 0.05
    crop_scale_jitter: float = 0.10

    @property
    def framing(self) -> Framing:
        """How a face's landmark box becomes its crop (without the jitter)."""
        return Framing(self.crop_margin, self.crop_shift)


@dataclass
class Cameras:
    """K (..., 3, 3) px, q (..., 4), t (..., 3) mm, and each photograph's light
    (:class:`facelib.graphics.render.Lighting`, model frame): ``light_dir`` (..., 3)
    towards the dominant light, its ``colour`` (..., 3), the ambient ``sky`` and
    ``ground`` (..., 3), the highlight's ``specular`` strength and ``shininess``
    (...,)."""

    K: torch.Tensor
    q: torch.Tensor
    t: torch.Tensor
    light_dir: torch.Tensor
    colour: torch.Tensor
    sky: torch.Tensor
    ground: torch.Tensor
    specular: torch.Tensor
    shininess: torch.Tensor


LIGHT_FIELDS = ("light_dir", "colour", "sky", "ground", "specular", "shininess")


def _intrinsics(shape: tuple[int, ...], settings: CameraSettings) -> torch.Tensor:
    """The phone's K, (*shape, 3, 3)."""
    K = intrinsics_from_fov(
        settings.fov_deg, settings.image_size, settings.image_size, dtype=torch.float64
    )
    return K.expand(*shape, 3, 3).clone()


def _pose(
    yaw: torch.Tensor,
    settings: CameraSettings,
    g: torch.Generator,
    distance: torch.Tensor,
):
    pitch = (
        torch.randn(yaw.shape, generator=g, dtype=torch.float64)
        * settings.pitch_std_deg
    ).clamp(-25, 25)
    roll = (
        torch.randn(yaw.shape, generator=g, dtype=torch.float64) * settings.roll_std_deg
    ).clamp(-15, 15)
    q, t = orbit_pose(torch.stack([yaw, pitch, roll], -1), distance)
    # the head is not exactly on the optical axis (the crop is not centred on the head's
    # centre)
    t = t + torch.cat(
        [
            torch.randn(*yaw.shape, 2, generator=g, dtype=torch.float64) * 8.0,
            torch.zeros(*yaw.shape, 1, dtype=torch.float64),
        ],
        -1,
    )
    return q, t


def sample_scene_cameras(
    n_scenes: int,
    photos_per_subject: int,
    settings: CameraSettings,
    generator: torch.Generator,
) -> Cameras:
    """Cameras of ``n_scenes`` training scenes with ``photos_per_subject`` photographs
    each, shapes (n_scenes, photos_per_subject, ...).

    The yaw range is cut into ``photos_per_subject`` equal sectors and each photograph
    draws its yaw in its own sector, so every scene sees the face from the whole range;
    the order of the photographs is then shuffled.
    """
    g = generator
    edges = torch.linspace(
        -settings.max_yaw_deg,
        settings.max_yaw_deg,
        photos_per_subject + 1,
        dtype=torch.float64,
    )
    yaw = edges[:-1] + (edges[1:] - edges[:-1]) * torch.rand(
        n_scenes, photos_per_subject, generator=g, dtype=torch.float64
    )
    order = torch.argsort(torch.rand(n_scenes, photos_per_subject, generator=g), dim=1)
    yaw = torch.gather(yaw, 1, order)
    lo, hi = settings.distance_mm
    distance = lo + (hi - lo) * torch.rand(
        n_scenes, photos_per_subject, generator=g, dtype=torch.float64
    )
    q, t = _pose(yaw, settings, g, distance)
    K = _intrinsics(distance.shape, settings)
    light = random_lighting(n_scenes * photos_per_subject, g)
    shape = (n_scenes, photos_per_subject)
    return Cameras(
        K, q, t, **{k: v.view(*shape, *v.shape[1:]) for k, v in light.items()}
    )


def sample_capture_cameras(
    motion: str, n_frames: int, settings: CameraSettings, generator: torch.Generator
) -> Cameras:
    """The frames (n_frames, ...) of one capture: ``"orbit"`` or ``"turn"`` (see the
    module doc).

    The yaw sweeps smoothly from one side (about ±80°) to the other, with a slow wobble
    in pitch and roll and in distance, as a hand-held video would.
    """
    if motion not in ("orbit", "turn"):
        raise ValueError(f"capture motion must be 'orbit' or 'turn', got {motion!r}")
    g = generator
    u = torch.linspace(0.0, 1.0, n_frames, dtype=torch.float64)
    start = 70.0 + 15.0 * torch.rand((), generator=g, dtype=torch.float64)
    sign = 1.0 if torch.rand((), generator=g) < 0.5 else -1.0
    yaw = sign * start * torch.cos(torch.pi * u)
    phase = torch.rand(3, generator=g, dtype=torch.float64) * 2 * torch.pi
    pitch = 6.0 * torch.sin(2 * torch.pi * u + phase[0]) + 4.0 * (
        torch.rand((), generator=g, dtype=torch.float64) - 0.5
    )
    roll = 3.0 * torch.sin(2 * torch.pi * u + phase[1])
    lo, hi = settings.distance_mm
    base = lo + (hi - lo) * torch.rand((), generator=g, dtype=torch.float64)
    wobble = 0.04 if motion == "orbit" else 0.0
    distance = base * (1.0 + wobble * torch.sin(2 * torch.pi * u + phase[2]))
    q, t = orbit_pose(torch.stack([yaw, pitch, roll], -1), distance)
    K = _intrinsics((n_frames,), settings)
    lighting = random_lighting(1, g)
    light_dir = lighting["light_dir"]
    if motion == "orbit":  # the light stays put relative to the face
        light = light_dir.expand(n_frames, 3).clone()
    # the light stays put relative to the camera, which is fixed: it turns in the face's
    # frame
    else:
        light_cam = (
            light_dir[0] @ quaternion_to_matrix(q[n_frames // 2]).T
        )  # as lit in the frontal frame
        light = (quaternion_to_matrix(q).transpose(-1, -2) @ light_cam[:, None])[..., 0]
    rest = {
        k: v.expand(n_frames, *v.shape[1:]).clone()
        for k, v in lighting.items()
        if k != "light_dir"
    }
    return Cameras(K, q, t, light, **rest)


def orbit_cameras(
    n: int,
    yaws_deg: tuple[float, ...],
    distance_mm: float,
    settings: CameraSettings,
    generator: torch.Generator,
) -> Cameras:
    """Cameras (n, Y, ...) of a controlled shoot: each of n faces seen from every yaw
    of ``yaws_deg`` (Y,) on an orbit of radius ``distance_mm`` round the head's centre
    (no pitch, roll or offset), with the phone's intrinsics (its whole photograph, not
    a crop: :func:`frame_faces` crops it), each photograph under its own random light
    (:func:`~facelib.world.appearance.random_lighting`, from ``generator``)."""
    Y = len(yaws_deg)
    yaw = torch.tensor(yaws_deg, dtype=torch.float64).expand(n, Y)
    angles = torch.stack([yaw, torch.zeros_like(yaw), torch.zeros_like(yaw)], -1)
    q, t = orbit_pose(angles, torch.full((n, Y), float(distance_mm)).double())
    light = random_lighting(n * Y, generator)
    return Cameras(
        _intrinsics((n, Y), settings),
        q,
        t,
        **{k: v.view(n, Y, *v.shape[1:]) for k, v in light.items()},
    )


def frame_faces(
    cameras: Cameras,
    landmarks: torch.Tensor,
    settings: CameraSettings,
    generator: torch.Generator,
) -> Cameras:
    """The cameras with each photograph cropped like a face detector's crop: the
    square box round the landmarks (N, L, 3) mm of each row's face as the phone's
    camera (cameras (N, V, ...), ``K`` at ``settings.image_size``) sees them, its
    centre moved by ``crop_centre_jitter`` box sides and its side scaled by
    ``exp(crop_scale_jitter z)`` (z standard normal, clipped at ±2), framed with
    ``crop_margin`` and ``crop_shift`` and resampled to ``settings.image_size``
    pixels. Returns the cameras with the crops' intrinsics."""
    g, S = generator, settings.image_size
    N, V = cameras.q.shape[:2]
    K = cameras.K.double()
    uv = project(landmarks.double()[:, None], K, cameras.q.double(), cameras.t.double())
    boxes = landmark_boxes(uv)  # (N, V, 3)
    side = boxes[..., 2:]
    shift = torch.randn(N, V, 2, generator=g, dtype=torch.float64)
    grow = torch.randn(N, V, 1, generator=g, dtype=torch.float64).clamp(-2, 2)
    centre = boxes[..., :2] + side / 2 + settings.crop_centre_jitter * side * shift
    side = side * torch.exp(settings.crop_scale_jitter * grow)
    boxes = torch.cat([centre - side / 2, side], -1)
    crops = framed_crops(boxes, settings.framing)
    fields_ = {f.name: getattr(cameras, f.name) for f in fields(Cameras)}
    fields_["K"] = crop_intrinsics(K, crops, S).to(cameras.K.dtype)
    return Cameras(**fields_)


@dataclass(frozen=True)
class Heads:
    """What surrounds the faces (:mod:`facelib.world.head`): ``vertices`` (N, Q, 3) mm
    in each face's model frame, ``albedo`` (N, Q, 3), display RGB in [0, 1], over one
    topology ``faces`` (G, 3) (indices into the head's Q vertices), and ``gloss`` (Q,),
    the highlight multiplier per vertex."""

    vertices: torch.Tensor
    albedo: torch.Tensor
    faces: torch.Tensor
    gloss: torch.Tensor


def render_images(
    shapes: torch.Tensor,
    faces: torch.Tensor,
    albedo: torch.Tensor,
    cameras: Cameras,
    settings: CameraSettings,
    generator: torch.Generator,
    *,
    heads: Heads | None = None,
    shadow_faces: torch.Tensor | None = None,
    photo: PhotoSettings = PhotoSettings(),
    one_background_per_row: bool = False,
    batch: int = 128,
    workers: int = 1,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Photographs (N, V, 3, S, S) uint8 of shapes (N, P, 3) mm with albedo (N, P, 3)
    (display RGB in [0, 1]), drawn with the triangles ``faces`` (the face's, lid
    openings cut: :attr:`facelib.world.head.HeadMesh.face_faces`) and, when given,
    their ``heads``; one per camera (cameras shaped (N, V, ...)).

    Each image is lit by its camera's light with cast shadows and highlights, over a
    place background (:func:`facelib.world.places.place_backgrounds`; one per image,
    or one per row of V frames for videos), then developed by the camera's pipeline
    (:func:`facelib.world.photo.develop`). ``shadow_faces``: the triangles that cast
    the shadows, indexed into the face's vertices then the head's (default: all that
    are drawn; :func:`facelib.world.head.shadow_faces` is a quarter of the face's).

    The rows are cut into chunks of about ``batch`` images, each drawing from its own
    generator seeded by one draw of ``generator`` and the chunk's index, so the
    photographs are the same for any number of ``workers`` (processes). ``device``:
    where the rasterizer runs (``"cuda"`` renders the paper's 224 px data set several
    times faster than 16 CPU cores; the chunks then run in this process); random draws
    are on the CPU either way, so the device changes only the rounding of the
    rasterizer's arithmetic. The result is always on the CPU."""
    N, V = cameras.q.shape[:2]
    S = settings.image_size
    base_seed = int(torch.randint(2**62, (1,), generator=generator))
    rows_per_chunk = max(1, batch // V)
    jobs = []
    for k, start in enumerate(range(0, N, rows_per_chunk)):
        rows = slice(start, min(start + rows_per_chunk, N))
        jobs.append(
            _Chunk(
                shapes=shapes[rows],
                faces=faces,
                albedo=albedo[rows],
                cameras=Cameras(
                    **{f.name: getattr(cameras, f.name)[rows] for f in fields(Cameras)}
                ),
                heads=None
                if heads is None
                else Heads(
                    heads.vertices[rows], heads.albedo[rows], heads.faces, heads.gloss
                ),
                image_size=S,
                shadow_faces=shadow_faces,
                photo=photo,
                one_background_per_row=one_background_per_row,
                seed=base_seed + k,
                device=str(device),
            )
        )
    parts = process_map(_render_chunk, jobs, workers if str(device) == "cpu" else 1)
    return torch.cat(parts) if parts else torch.empty(0, V, 3, S, S, torch.uint8)


@dataclass
class _Chunk:
    """One job of :func:`render_images`: some rows of subjects and their cameras."""

    shapes: torch.Tensor
    faces: torch.Tensor
    albedo: torch.Tensor
    cameras: Cameras
    heads: Heads | None
    image_size: int
    shadow_faces: torch.Tensor | None
    photo: PhotoSettings
    one_background_per_row: bool
    seed: int
    device: str


def _render_chunk(chunk: _Chunk) -> torch.Tensor:
    """The photographs (n, V, 3, S, S) uint8 of one chunk (:func:`render_images`)."""
    generator = torch.Generator().manual_seed(chunk.seed)
    cameras, heads, S = chunk.cameras, chunk.heads, chunk.image_size
    N, V = cameras.q.shape[:2]
    P = chunk.shapes.shape[1]
    flat = lambda x: x.reshape(N * V, *x.shape[2:])  # noqa: E731
    K, q, t = (flat(x).float() for x in (cameras.K, cameras.q, cameras.t))
    light = {k: flat(getattr(cameras, k)).float() for k in LIGHT_FIELDS}
    subject = torch.arange(N).repeat_interleave(V)
    if chunk.one_background_per_row:
        backgrounds = place_backgrounds(N, S, S, generator)[subject]
    else:
        backgrounds = place_backgrounds(N * V, S, S, generator)
    faces = chunk.faces.long()
    verts = chunk.shapes.float()[subject]
    alb = srgb_to_linear(chunk.albedo.float())[subject]
    gloss = torch.ones(P)
    if heads is not None:
        faces = torch.cat([faces, heads.faces.long() + P])
        gloss = torch.cat([gloss, heads.gloss.float()])
        verts = torch.cat([verts, heads.vertices.float()[subject]], 1)
        alb = torch.cat([alb, srgb_to_linear(heads.albedo.float())[subject]], 1)
    lighting = Lighting(*(light[k] for k in LIGHT_FIELDS), shadows=True).to(
        chunk.device
    )
    on = lambda x: x.to(chunk.device)  # noqa: E731
    linear = render(
        on(verts),
        on(faces),
        on(alb),
        on(K),
        on(q),
        on(t),
        None,
        on(backgrounds),
        lighting=lighting,
        gloss=on(gloss.expand(N * V, -1)),
        shadow_faces=None if chunk.shadow_faces is None else on(chunk.shadow_faces),
        settings=RasterSettings(image_size=(S, S)),
        clamp=False,
    ).images.cpu()
    return develop(linear, generator, chunk.photo).view(N, V, 3, S, S)


def landmark_consistency(
    shapes: torch.Tensor,
    faces: torch.Tensor,
    landmarks: np.ndarray,
    K: torch.Tensor,
    q: torch.Tensor,
    t: torch.Tensor,
    image_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Where the rendered landmark vertices are against where the camera model projects
    them.

    For every image (shapes (N, P, 3), cameras (N, V, ...)) the renderer's per-pixel
    surface points are interpolated from its barycentrics; the rendered position of a
    landmark is the pixel whose surface point is nearest to the landmark vertex. A
    landmark counts as visible when that nearest point is within one pixel's footprint
    (depth / focal length) of the vertex.

    Returns offsets (N, V, L) in pixels between the rendered and the projected
    positions, and visible (N, V, L) bool.
    """
    N, V = q.shape[:2]
    L = len(landmarks)
    faces = faces.to(torch.long)
    offsets = np.full((N, V, L), np.nan)
    visible = np.zeros((N, V, L), bool)
    lm = torch.as_tensor(np.asarray(landmarks), dtype=torch.long)
    for n in range(N):
        verts = shapes[n].expand(V, -1, -1)
        frags = rasterize(
            verts,
            faces,
            K[n],
            q[n],
            t[n],
            RasterSettings(image_size=(image_size, image_size)),
        )
        projected = project(
            shapes[n][lm].expand(V, -1, -1), K[n], q[n], t[n]
        )  # (V, L, 2)
        for v in range(V):
            ys, xs = frags.mask[v].nonzero(as_tuple=True)
            tri = frags.triangle[v, ys, xs]
            surface = (frags.bary[v, ys, xs][..., None] * shapes[n][faces[tri]]).sum(
                1
            )  # (M, 3) model frame
            dist = torch.cdist(shapes[n][lm], surface)  # (L, M)
            best = dist.argmin(dim=1)
            footprint = frags.depth[v, ys[best], xs[best]] / K[n, v, 0, 0]
            visible[n, v] = (dist[torch.arange(L), best] < footprint).numpy()
            pixel = torch.stack([xs[best], ys[best]], -1).to(projected.dtype)
            offsets[n, v] = (pixel - projected[v]).norm(dim=-1).numpy()
    return offsets, visible

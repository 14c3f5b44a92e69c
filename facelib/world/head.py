"""The whole head around a face: what is photographed, beyond what is reconstructed.

The template and the 3DMM cover the face only (3DFAW's scans are face crops); a
photograph shows the whole head. :func:`build_head` makes one fixed mesh topology for
every subject, made of parts:

* **scalp**: a band round the head from the hairline to the jaw's level, continuing the
  identity's own surface (:func:`facelib.world.identity.surface_points`) round the back
  along an ellipse as deep as the identity's ``head_length``, and a dome from the
  hairline up to the crown;
* **neck** (a tube), **torso** (an ellipsoid: shoulders and chest, in clothes);
* **ears**: a flattened ellipsoid on each side, tilted backwards;
* **eyes**: an eyeball (radius 12 mm) behind each lid opening, whose triangles are cut
  out of the face for rendering (:attr:`HeadMesh.face_faces`), so the sclera, the iris
  and the pupil show between the lids, looking where the :class:`HeadStyle` says;
* **hair**: a shell over the scalp, thicker or thinner, cut to a style (``bald``,
  ``short``, ``fringe``, ``long``, ``tied``): vertices outside the style's region sink
  inside the skull, where the z-buffer hides them. Long hair hangs past the ears and the
  neck.
* **glasses** (on some heads): a frame of round tubes, two rims 12 mm in front of the
  eyes, a bridge and two temples back to the ears (no lenses: clear glass is not drawn).
  Heads without glasses keep the frame's vertices folded inside the skull.

All parts move rigidly with the face (they are built in its model frame). The scalp
meets the face along the face region's border on the same surface, so there is no seam.
The face's own vertices, the 3DMM and Eq. 2 never see any of this: occluders change
photographs, not ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from facelib.data.template import FaceTemplate
from facelib.world.identity import Identity, surface_points
from facelib.world.template import HEAD_RADIUS_MM, S_MAX_MM, Y_TOP_MM

__all__ = [
    "HAIR_STYLES",
    "HeadStyle",
    "HeadMesh",
    "build_head",
    "sample_head_styles",
    "head_vertices",
    "eye_latitude",
    "shadow_faces",
]

HAIR_STYLES = ("bald", "short", "fringe", "long", "tied")

_THETAS = 48  # columns round the head
_BAND_ROWS = 16  # hairline to the jaw's level
_DOME_ROWS = 8
_HANG_ROWS = 8  # long hair below the band
_BAND_BOTTOM = 40.0  # canonical y of the band's lower edge (mm)
_EYE_RADIUS = 12.0
_EYE_STEPS = (10, 16)  # latitude, longitude of an eyeball
_TUBE_SIDES = 4  # the glasses' tubes: square cross-sections
_RIM_POINTS = 16
_TEMPLE_POINTS = 4
_FRAME_COLOURS = (
    (0.04, 0.035, 0.035),  # black
    (0.25, 0.13, 0.06),  # brown
    (0.55, 0.55, 0.57),  # metal
)


@dataclass(frozen=True)
class HeadStyle:
    """What surrounds one face: ``head_length`` glabella to the back of the head and
    ``crown`` hairline to the top (mm); ``hair`` one of :data:`HAIR_STYLES`,
    ``hair_thickness`` (mm), ``recession`` how far the hairline has receded (mm);
    ``neck_width`` half-width (mm); ``gaze`` (yaw, pitch) of both eyes in degrees;
    ``ear_size`` ratio; ``glasses`` the frame's tube radius (mm; 0: no glasses),
    ``frame_colour`` its display RGB in [0, 1]."""

    head_length: float = 190.0
    crown: float = 55.0
    hair: str = "short"
    hair_thickness: float = 8.0
    recession: float = 0.0
    neck_width: float = 56.0
    gaze: tuple[float, float] = (0.0, 0.0)
    ear_size: float = 1.0
    glasses: float = 0.0
    frame_colour: tuple[float, float, float] = (0.05, 0.04, 0.04)


def sample_head_styles(n: int, rng: np.random.Generator) -> list[HeadStyle]:
    """``n`` random head styles (published spreads: head length 190 ± 7 mm, ear length
    ratio ± 8 %); a quarter wear glasses, with dark, brown or metal frames."""
    styles = []
    for _ in range(n):
        hair = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=[0.1, 0.35, 0.2, 0.2, 0.15])]
        glasses = float(rng.uniform(1.2, 2.6)) if rng.random() < 0.25 else 0.0
        frame = _FRAME_COLOURS[rng.integers(len(_FRAME_COLOURS))]
        styles.append(
            HeadStyle(
                head_length=float(rng.normal(190.0, 7.0)),
                crown=float(rng.normal(55.0, 5.0)),
                hair=hair,
                hair_thickness=float(rng.uniform(3.0, 15.0)),
                recession=float(rng.uniform(0.0, 25.0) * (rng.random() < 0.3)),
                neck_width=float(rng.normal(56.0, 4.0)),
                gaze=(float(rng.normal(0.0, 12.0)), float(rng.normal(0.0, 8.0))),
                ear_size=float(rng.normal(1.0, 0.08)),
                glasses=glasses,
                frame_colour=frame,
            )
        )
    return styles


@dataclass(frozen=True)
class HeadMesh:
    """The fixed topology of the head's parts.

    faces: (F, 3) triangles over the head's vertices (all parts, outward winding);
    parts: name -> slice of the head's vertices; face_faces: the template's triangles
    without the lid openings (render these for the face); coarse_face_faces: triangles
    over every other row and column of the template's grid (a quarter as many), enough
    to cast the face's shadows (:func:`shadow_faces`); eye_opening: (P,) bool, the
    template vertices inside a lid opening; hair_grid: (rows, columns) of the hair
    shell's canonical rows (y) and angles (rad), used for the style masks.
    """

    faces: np.ndarray
    parts: dict[str, slice]
    face_faces: np.ndarray
    eye_opening: np.ndarray
    n_points: int
    coarse_face_faces: np.ndarray | None = None


def _grid_faces(rows: int, cols: int, offset: int, wrap: bool) -> np.ndarray:
    """Two triangles per quad of a (rows, cols) vertex grid; columns wrap round if
    ``wrap``."""
    ids = np.arange(rows * cols).reshape(rows, cols) + offset
    tris = []
    last = cols if wrap else cols - 1
    for r in range(rows - 1):
        for c in range(last):
            a, b = ids[r, c], ids[r, (c + 1) % cols]
            d, e = ids[r + 1, c], ids[r + 1, (c + 1) % cols]
            tris += [(a, d, b), (b, d, e)]
    return np.array(tris, dtype=np.int64)


def _sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """A unit sphere: vertices (2 + (n_lat - 1) * n_lon, 3) and outward triangles;
    vertex 0 is the pole at +z... no: the pole at -z (looking towards the camera of a
    frontal photograph), the last vertex the pole at +z."""
    phi = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    lam = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    ring = np.stack(
        [
            np.sin(phi)[:, None] * np.cos(lam)[None],
            np.sin(phi)[:, None] * np.sin(lam)[None],
            -np.cos(phi)[:, None] * np.ones_like(lam)[None],
        ],
        -1,
    ).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, -1.0]], ring, [[0, 0, 1.0]]])
    tris = [(0, 1 + (j + 1) % n_lon, 1 + j) for j in range(n_lon)]
    rings = _grid_faces(n_lat - 1, n_lon, 1, True)
    tris += [tuple(t) for t in rings]
    last = len(verts) - 1
    base = 1 + (n_lat - 2) * n_lon
    tris += [(last, base + j, base + (j + 1) % n_lon) for j in range(n_lon)]
    return verts, np.array(tris, dtype=np.int64)


def _orient(vertices: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Flip the triangles whose normal points towards ``centre`` (outward winding)."""
    v = vertices[faces]
    normal = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    outward = ((v.mean(1) - centre) * normal).sum(-1) >= 0
    return np.where(outward[:, None], faces, faces[:, ::-1])


def _eye_opening(template: FaceTemplate) -> np.ndarray:
    s, y = template.canonical[:, 0], template.canonical[:, 1]
    return ((np.abs(s) - 35.5) / 14.0) ** 2 + ((y + 28.5) / 3.4) ** 2 < 1.0


def _build_head(template: FaceTemplate) -> HeadMesh:
    counts = {
        "scalp": (_DOME_ROWS + _BAND_ROWS) * _THETAS + 1,
        "hair": (_DOME_ROWS + _BAND_ROWS + _HANG_ROWS) * _THETAS + 1,
        "neck": 6 * _THETAS,
        "torso": 2 + (_EYE_STEPS[0] - 1) * 24,
        "ear_right": 2 + (6 - 1) * 10,
        "ear_left": 2 + (6 - 1) * 10,
        "eye_right": 2 + (_EYE_STEPS[0] - 1) * _EYE_STEPS[1],
        "eye_left": 2 + (_EYE_STEPS[0] - 1) * _EYE_STEPS[1],
        "glasses": _glasses_points() * _TUBE_SIDES,
    }
    parts, start = {}, 0
    for name, n in counts.items():
        parts[name] = slice(start, start + n)
        start += n
    faces = []
    for name in ("scalp", "hair"):
        rows = (counts[name] - 1) // _THETAS
        sl = parts[name]
        # the crown: one vertex (the last) joined to the first row
        crown = sl.stop - 1
        faces.append(
            np.array(
                [
                    (crown, sl.start + (j + 1) % _THETAS, sl.start + j)
                    for j in range(_THETAS)
                ]
            )
        )
        faces.append(_grid_faces(rows, _THETAS, sl.start, True))
    faces.append(_grid_faces(6, _THETAS, parts["neck"].start, True))
    for name, (lat, lon) in (
        ("torso", (_EYE_STEPS[0], 24)),
        ("ear_right", (6, 10)),
        ("ear_left", (6, 10)),
        ("eye_right", _EYE_STEPS),
        ("eye_left", _EYE_STEPS),
    ):
        faces.append(_sphere(lat, lon)[1] + parts[name].start)
    start_glasses = parts["glasses"].start
    for first, n, closed in _glasses_paths():
        faces.append(_tube_faces(n, closed) + start_glasses + first * _TUBE_SIDES)
    opening = _eye_opening(template)
    keep = ~opening[template.faces].all(axis=1)
    mesh = HeadMesh(
        faces=np.concatenate(faces),
        parts=parts,
        face_faces=template.faces[keep],
        eye_opening=opening,
        n_points=start,
    )
    # outward winding, fixed once on the mean head
    style = HeadStyle(hair="long", glasses=2.0)
    v = head_vertices(Identity(), style, template, mesh=mesh)
    oriented = []
    for name, sl in parts.items():
        sel = (mesh.faces >= sl.start).all(1) & (mesh.faces < sl.stop).all(1)
        part_faces = mesh.faces[sel]
        if name in ("scalp", "hair", "neck"):  # tubes: outward from their axis
            part_faces = _orient_tube(v, part_faces)
        elif name == "glasses":  # outward from each tube's centre line
            path = _glasses_path(Identity(), style, template)
            axis = np.repeat(path, _TUBE_SIDES, axis=0)
            part_faces = _orient_about(v, part_faces, axis, sl.start)
        else:
            part_faces = _orient(v, part_faces, v[sl].mean(0))
        oriented.append(part_faces)
    return HeadMesh(
        np.concatenate(oriented),
        parts,
        mesh.face_faces,
        opening,
        mesh.n_points,
        _coarse_face(template),
    )


def _coarse_face(template: FaceTemplate) -> np.ndarray:
    """Triangles over every other row and column of the template's grid, wound like
    the template's (outwards)."""
    rows, cols = template.grid_shape
    ids = np.arange(rows * cols).reshape(rows, cols)[::2, ::2]
    r, c = ids.shape
    local = _grid_faces(r, c, 0, False)
    faces = ids.reshape(-1)[local]
    face = surface_points(Identity(), template.canonical)
    reference = trimesh.Trimesh(face, template.faces, process=False).vertex_normals
    v = face[faces]
    normal = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    outward = (normal * reference[faces].sum(1)).sum(-1) >= 0
    return np.where(outward[:, None], faces, faces[:, ::-1])


def _orient_about(
    v: np.ndarray, faces: np.ndarray, axis: np.ndarray, start: int
) -> np.ndarray:
    """Outward winding for tubes: each triangle's normal points away from the mean
    of its vertices' centre-line points ``axis`` (indexed from ``start``)."""
    tri = v[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = axis[faces - start].mean(1)
    outward = ((tri.mean(1) - centre) * normal).sum(-1) >= 0
    return np.where(outward[:, None], faces, faces[:, ::-1])


def _glasses_paths() -> list[tuple[int, int, bool]]:
    """The glasses' centre lines as (first point, points, closed): the right and left
    rims, the bridge, the right and left temples."""
    r, t = _RIM_POINTS, _TEMPLE_POINTS
    return [(0, r, True), (r, r, True), (2 * r, 3, False)] + [
        (2 * r + 3, t, False),
        (2 * r + 3 + t, t, False),
    ]


def _glasses_points() -> int:
    return sum(n for _, n, _ in _glasses_paths())


def _tube_faces(n: int, closed: bool) -> np.ndarray:
    """Triangles of a tube of ``n`` rings of :data:`_TUBE_SIDES` vertices."""
    rows = n + 1 if closed else n
    faces = _grid_faces(rows, _TUBE_SIDES, 0, True)
    return faces % (n * _TUBE_SIDES)  # a closed tube's last ring is its first


def _tube_vertices(path: np.ndarray, radius: float, closed: bool) -> np.ndarray:
    """Rings of :data:`_TUBE_SIDES` vertices (n * sides, 3) round the centre line
    ``path`` (n, 3) mm, each square to the line's direction there."""
    ahead = (
        np.roll(path, -1, 0)
        if closed
        else np.vstack([path[1:], 2 * path[-1:] - path[-2:-1]])
    )
    behind = (
        np.roll(path, 1, 0)
        if closed
        else np.vstack([2 * path[:1] - path[1:2], path[:-1]])
    )
    d = ahead - behind
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    up = np.where(np.abs(d[:, 1:2]) > 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    n1 = np.cross(d, up)
    n1 /= np.linalg.norm(n1, axis=1, keepdims=True)
    n2 = np.cross(d, n1)
    angle = 2 * np.pi * np.arange(_TUBE_SIDES) / _TUBE_SIDES + np.pi / _TUBE_SIDES
    ring = (
        np.cos(angle)[None, :, None] * n1[:, None]
        + np.sin(angle)[None, :, None] * n2[:, None]
    )
    return (path[:, None] + radius * ring).reshape(-1, 3)


def _head_sides(identity: Identity) -> dict[float, np.ndarray]:
    """The points (3,) mm of the head's sides at eye level where the ears sit, by side
    (-1: right, +1: left)."""
    return {
        sign: surface_points(identity, np.array([[sign * S_MAX_MM, -5.0]]))[0]
        for sign in (-1.0, 1.0)
    }


def _glasses_path(
    identity: Identity,
    style: HeadStyle,
    template: FaceTemplate,
    face=None,
    sides: dict[float, np.ndarray] | None = None,
) -> np.ndarray:
    """The frame's centre-line points (:func:`_glasses_points`, 3) mm: rims 50 x 34
    mm round each eye, 12 mm in front of it, the bridge between them and the temples
    to the tops of the ears (``face``: the face's vertices, ``sides``:
    :func:`_head_sides`, computed when not given)."""
    if face is None:
        face = surface_points(identity, template.canonical)
    sides = sides or _head_sides(identity)
    opening = _eye_opening(template)
    s = template.canonical[:, 0]
    points = []
    centres = {}
    for name, sign in (("right", -1.0), ("left", 1.0)):
        eye = face[opening & (sign * s > 0)].mean(0)
        front = face[opening].min(0)[2]  # the lids' most forward depth
        centre = np.array([eye[0] + sign * 3.0, eye[1] + 2.0, front - 12.0])
        centres[name] = centre
        a = 2 * np.pi * np.arange(_RIM_POINTS) / _RIM_POINTS
        points.append(
            centre + np.stack([25.0 * np.cos(a), 17.0 * np.sin(a), 0 * a], -1)
        )
    inner_r = centres["right"] + np.array([25.0, -4.0, 0.0])
    inner_l = centres["left"] + np.array([-25.0, -4.0, 0.0])
    mid = (inner_r + inner_l) / 2 + np.array([0.0, -2.0, -2.0])
    points.append(np.stack([inner_r, mid, inner_l]))
    for name, sign in (("right", -1.0), ("left", 1.0)):
        ear_top = sides[sign] + np.array([sign * 9.0, -26.0, 14.0])
        outer = centres[name] + np.array([sign * 25.0, -4.0, 0.0])
        hinge = outer + np.array([sign * 6.0, 0.0, 8.0])
        points.append(np.stack([outer, hinge, (hinge + ear_top) / 2, ear_top]))
    return np.concatenate(points)


def shadow_faces(mesh: HeadMesh, n_face_points: int) -> np.ndarray:
    """The triangles that cast shadows in a photograph of a face (``n_face_points``
    vertices) and its head: the coarse face grid and every part of the head, indexed
    like the rendered vertices (the face's first, then the head's)."""
    return np.concatenate([mesh.coarse_face_faces, mesh.faces + n_face_points])


def _orient_tube(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Outward winding for a surface round the vertical axis: the normal points away
    from the axis (x = z = 0 at a depth near the head's centre), or up at the crown."""
    tri = v[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    c = tri.mean(1)
    radial = c.copy()
    radial[:, 1] = 0.0
    radial[:, 2] -= 10.0
    near_axis = np.linalg.norm(radial, axis=1) < 20.0
    radial[near_axis] = np.array([0.0, -1.0, 0.0])  # the crown: outward is up
    outward = (normal * radial).sum(-1) >= 0
    return np.where(outward[:, None], faces, faces[:, ::-1])


def build_head(template: FaceTemplate) -> HeadMesh:
    """The head's topology for faces in ``template``'s topology (built once per
    template)."""
    cached = _CACHE.get(id(template))
    if cached is None or cached[0] is not template:
        cached = _CACHE[id(template)] = (template, _build_head(template))
    return cached[1]


_CACHE: dict[int, tuple[FaceTemplate, HeadMesh]] = {}


def _scalp_grid(identity: Identity, style: HeadStyle):
    """Vertices of the scalp: rows from the crown's ring down, ``(rows, _THETAS, 3)``,
    the crown (3,) and the angles (THETAS,) of the columns."""
    h = identity.face_height
    theta = np.linspace(-np.pi, np.pi, _THETAS, endpoint=False) + np.pi / _THETAS
    y_band = np.linspace(Y_TOP_MM, _BAND_BOTTOM, _BAND_ROWS)
    theta_side = S_MAX_MM / HEAD_RADIUS_MM
    # the band: the identity's surface in front, an ellipse round the back; one call
    # of the surface for every row's front points and its two sides
    front = np.abs(theta) <= theta_side
    s = np.clip(theta, -theta_side, theta_side) * HEAD_RADIUS_MM
    yy = np.repeat(y_band, _THETAS)
    query = np.concatenate(
        [
            np.stack([np.tile(s, _BAND_ROWS), yy], -1),
            np.stack([np.full(_BAND_ROWS, S_MAX_MM), y_band], -1),
        ]
    )
    query = np.concatenate([query, [[0.0, -42.0]]])  # and the glabella
    points = surface_points(identity, query)
    fronts = points[: _BAND_ROWS * _THETAS].reshape(_BAND_ROWS, _THETAS, 3)
    sides = points[_BAND_ROWS * _THETAS : -1]
    glabella_z = points[-1, 2]
    # inside the face region the band would lie on the face's surface with coarser
    # triangles and win the z-test wherever the face is concave (eye sockets, beside
    # the nose): there it sinks 10 mm inwards, so that only the face shows; the rows
    # and columns on the region's border stay on the surface, where the two meet
    inner = (np.abs(theta) < theta_side - np.radians(4.0))[None, :] & (
        y_band > Y_TOP_MM + 1.0
    )[:, None]
    centre_xz = np.array([0.0, 0.0, 0.0])
    toward = centre_xz - fronts * np.array([1.0, 0.0, 1.0])
    toward /= np.linalg.norm(toward, axis=-1, keepdims=True)
    fronts = np.where(inner[..., None], fronts + 10.0 * toward, fronts)
    # the back: phi from 0 (the subject's left side) to pi (the right side)
    phi = (np.where(theta > 0, theta, theta + 2 * np.pi) - theta_side) / (
        2 * np.pi - 2 * theta_side
    )
    phi = np.clip(phi, 0.0, 1.0) * np.pi
    rows = []
    for k, yc in enumerate(y_band):
        side = sides[k]
        # the back of the head: head_length behind the glabella, less at the nape
        back_depth = (
            glabella_z + style.head_length - 30.0 * np.clip((yc + 10) / 60, 0, 1)
        )
        b = max(back_depth - side[2], 10.0)
        back = np.stack(
            [
                side[0] * np.cos(phi),
                np.full_like(phi, side[1]),
                side[2] + b * np.sin(phi),
            ],
            -1,
        )
        rows.append(np.where(front[:, None], fronts[k], back))
    band = np.stack(rows)  # (BAND_ROWS, THETAS, 3)
    ring = band[0]
    centre = np.array(
        [0.0, ring[:, 1].mean(), (ring[:, 2].max() + ring[:, 2].min()) / 2]
    )
    # rows from near the crown (not on it: the crown is one vertex) to the hairline
    u = np.linspace(0, 1, _DOME_ROWS + 2)[1:-1][::-1]
    dome = np.stack(
        [
            centre
            + (ring - centre) * np.cos(np.pi * ui / 2) * np.array([1.0, 0.0, 1.0])
            + np.array([0.0, -style.crown * h * np.sin(np.pi * ui / 2), 0.0])
            + np.array([0.0, 1.0, 0.0]) * (ring[:, 1:2] - centre[1])
            for ui in u
        ]
    )
    crown = centre + np.array([0.0, -style.crown * h, 0.0])
    grid = np.concatenate([dome, band])
    return grid, crown, theta


def _hair_shell(grid: np.ndarray, crown: np.ndarray, thickness: float):
    """The hair shell over the scalp ``grid`` (rows, THETAS, 3): the scalp's rows and
    :data:`_HANG_ROWS` more hanging below its last one (14 mm apart), pushed
    ``thickness`` mm outwards from a point inside the head; and its crown (3,)."""
    bottom = grid[-1]
    hang = np.stack(
        [
            bottom * np.array([1.08, 1.0, 1.0]) + np.array([0.0, (k + 1) * 14.0, 0.0])
            for k in range(_HANG_ROWS)
        ]
    )
    shell = np.concatenate([grid, hang])
    c = np.array([0.0, -20.0, 5.0])
    d = shell - c
    shell = shell + thickness * d / np.linalg.norm(d, axis=-1, keepdims=True)
    return shell, crown + np.array([0.0, -thickness, 0.0])


def _hair_edge(style: HeadStyle, theta: np.ndarray) -> np.ndarray:
    """(THETAS,) the canonical y (mm, down) to which the hair reaches at each angle
    round the head: the hairline at the face, above the ears at the sides, the nape
    (or the shoulders for long hair) at the back."""
    front = np.cos(theta)  # 1 at the face, -1 at the back
    hairline = Y_TOP_MM + 3.0 - style.recession  # receding: up (y points down)
    if style.hair == "fringe":
        hairline = -52.0
    sides, back = -22.0, 38.0
    if style.hair == "long":
        sides, back = 150.0, 150.0
    edge = np.where(
        front > 0,
        sides + (hairline - sides) * np.clip(front / 0.55, 0, 1) ** 0.7,
        sides + (back - sides) * np.clip(-front / 0.6, 0, 1),
    )
    if style.hair == "long":  # the face stays free: only the top in front
        edge = np.where(front > 0.55, hairline, edge)
    return edge


def _hair_mask(style: HeadStyle, grid: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(rows, THETAS) float in [0, 1]: how much hair each shell vertex carries for the
    style (1 full thickness, 0 none), thinning out over the last 20 mm to its edge."""
    y = grid[..., 1]
    edge = _hair_edge(style, theta)[None, :]
    amount = np.clip((edge - y) / 20.0, 0.0, 1.0)
    if style.hair == "bald":  # a fringe of hair round the back and the sides
        front = np.cos(theta)[None, :]
        amount = amount * (front < 0.1) * np.clip((y + 70.0) / 15.0, 0.0, 1.0)
    return amount


def head_vertices(
    identity: Identity,
    style: HeadStyle,
    template: FaceTemplate,
    *,
    mesh: HeadMesh | None = None,
    face: np.ndarray | None = None,
) -> np.ndarray:
    """The head's vertices (N, 3) in mm, model frame, around ``identity``'s face
    (``face`` (P, 3): its vertices, computed when not given)."""
    mesh = mesh or build_head(template)
    if face is None:
        face = surface_points(identity, template.canonical)
    out = np.zeros((mesh.n_points, 3))
    grid, crown, theta = _scalp_grid(identity, style)
    out[mesh.parts["scalp"]] = np.concatenate([grid.reshape(-1, 3), crown[None]])
    hair_grid, hair_crown = _hair_shell(grid, crown, style.hair_thickness)
    amount = _hair_mask(style, hair_grid, theta)
    # the hair lies on the scalp, as thick as ``amount`` says; where there is none it
    # sinks inside the skull, where the z-buffer hides it
    scalp_rows = np.concatenate(
        [grid, np.repeat(grid[-1:], _HANG_ROWS, axis=0)], axis=0
    )
    shell = scalp_rows + amount[..., None] * (hair_grid - scalp_rows)
    centre = grid.reshape(-1, 3).mean(0)
    inside = centre + 0.5 * (hair_grid - centre)
    hair_grid = np.where((amount > 0.02)[..., None], shell, inside)
    if style.hair == "bald":
        hair_crown = centre
    out[mesh.parts["hair"]] = np.concatenate(
        [hair_grid.reshape(-1, 3), hair_crown[None]]
    )
    # neck: a tube under the head
    lam = np.linspace(-np.pi, np.pi, _THETAS, endpoint=False) + np.pi / _THETAS
    ys = np.linspace(20.0, 190.0, 6)
    w = style.neck_width
    neck = np.stack(
        [
            np.stack(
                [w * np.sin(lam), np.full_like(lam, y), 25.0 - 0.95 * w * np.cos(lam)],
                -1,
            )
            for y in ys
        ]
    )
    out[mesh.parts["neck"]] = neck.reshape(-1, 3)
    unit, _ = _sphere(_EYE_STEPS[0], 24)
    out[mesh.parts["torso"]] = unit * np.array([230.0, 110.0, 130.0]) + np.array(
        [0.0, 240.0 * identity.face_height, 35.0]
    )
    ear, _ = _sphere(6, 10)
    sides = _head_sides(identity)
    for name, sign in (("ear_right", -1.0), ("ear_left", 1.0)):
        side = sides[sign]
        tilt = np.deg2rad(15.0)
        rot = np.array(
            [
                [1, 0, 0],
                [0, np.cos(tilt), -np.sin(tilt)],
                [0, np.sin(tilt), np.cos(tilt)],
            ]
        )
        shape = ear * np.array([5.0, 31.0, 17.0]) * style.ear_size
        out[mesh.parts[name]] = shape @ rot.T + side + np.array([sign * 6.0, 0.0, 14.0])
    eye, _ = _sphere(*_EYE_STEPS)
    yaw, pitch = np.deg2rad(style.gaze)
    gaze = np.array(
        [
            [np.cos(yaw), 0, np.sin(yaw)],
            [0, 1, 0],
            [-np.sin(yaw), 0, np.cos(yaw)],
        ]
    ) @ np.array(
        [
            [1, 0, 0],
            [0, np.cos(pitch), -np.sin(pitch)],
            [0, np.sin(pitch), np.cos(pitch)],
        ]
    )
    s = template.canonical[:, 0]
    for name, side in (("eye_right", s < 0), ("eye_left", s > 0)):
        opening = face[mesh.eye_opening & side]
        # the eyeball's front 3.5 mm behind the lid opening: the lids, which curve
        # back round it, cover the rest
        centre = opening.mean(0) + np.array([0.0, 0.0, _EYE_RADIUS + 3.5])
        out[mesh.parts[name]] = (eye @ gaze.T) * _EYE_RADIUS + centre
    path = _glasses_path(identity, style, template, face, sides)
    radius = style.glasses if style.glasses > 0 else 0.5
    frame = np.concatenate(
        [
            _tube_vertices(path[first : first + n], radius, closed)
            for first, n, closed in _glasses_paths()
        ]
    )
    if style.glasses <= 0:  # folded inside the skull, where nothing sees it
        skull = grid.reshape(-1, 3).mean(0)
        frame = skull + 0.01 * (frame - frame.mean(0))
    out[mesh.parts["glasses"]] = frame
    return out


def eye_latitude() -> np.ndarray:
    """The angle (degrees) of every eyeball vertex from the eye's gaze axis, (n,)."""
    unit, _ = _sphere(*_EYE_STEPS)
    return np.degrees(np.arccos(np.clip(-unit[:, 2], -1.0, 1.0)))

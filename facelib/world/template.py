"""The face template: one topology for every face, with a mirror index and the iBUG-68
landmarks.

The face region (forehead to chin, ear to ear) is parameterised by a 2D *canonical
domain* in millimetres, ``(s, y)``:

* ``s`` runs across the face, from the subject's right ear (``s < 0``) to the left ear
  (``s > 0``), as arc length on a head of radius :data:`HEAD_RADIUS_MM` (``s = 0`` is
  the midline);
* ``y`` runs down, from the hairline (``y = -95``) to under the chin; the lower edge of
  the region follows the jaw, from ``y = +85`` under the chin to ``y = +40`` at the
  ears.

The template's vertices form a regular grid in that domain (columns denser near the
midline), so the grid is exactly symmetric: the mirror twin of column ``i`` is column
``n - 1 - i``, and the triangles are split so that the triangulation is mirror-symmetric
too. Every identity of the face world (:mod:`facelib.world.identity`) puts each
canonical point somewhere in 3D; landmarks and appearance regions are defined on the
canonical domain, so every identity carries them.

Landmarks follow the iBUG-68 layout (0-16 jaw line, 17-26 brows, 27-35 nose, 36-47 eyes,
48-67 mouth; the subject's right side first, as it appears on the left of a frontal
image). 3DFAW uses the 51 without the jaw line (:data:`IBUG51`).
"""

from __future__ import annotations

import numpy as np

from facelib.data.template import IBUG51, NOSE_TIP, FaceTemplate

__all__ = [
    "FaceTemplate",
    "build_template",
    "IBUG68_CANONICAL",
    "IBUG51",
    "NOSE_TIP",
    "HEAD_RADIUS_MM",
]

HEAD_RADIUS_MM = 78.0
S_MAX_MM = HEAD_RADIUS_MM * np.deg2rad(
    95.0
)  # the region reaches 95° round each side: the ears
Y_TOP_MM = -95.0
Y_CHIN_MM = 85.0
Y_EAR_BOTTOM_MM = 40.0


def _ibug68() -> np.ndarray:
    """Canonical (s, y) in mm of the 68 iBUG landmarks, (68, 2)."""
    pts = []
    # 0-16 jaw line: from below the subject's right ear, along the jaw, round the chin,
    # to the left ear
    for k in range(17):
        phi = np.pi * k / 16
        pts.append((-72.0 * np.cos(phi), -10.0 + 90.0 * np.sin(phi)))
    right_brow = [(-58, -41), (-48, -46), (-37, -49), (-25, -49), (-14, -46)]
    pts += right_brow + [(-s, y) for s, y in reversed(right_brow)]  # 17-21, 22-26
    pts += [(0, -30), (0, -18), (0, -6), (0, 7)]  # 27-30 nose bridge to the tip
    pts += [(-12, 16), (-6, 18), (0, 19), (6, 18), (12, 16)]  # 31-35 nostrils
    right_eye = [
        (-52, -28),
        (-42, -32),
        (-29, -32),
        (-19, -28),
        (-29, -25),
        (-42, -25),
    ]  # 36-41, outer corner first
    pts += right_eye
    # 42-47: the left eye, inner corner first, going over the upper lid then back along
    # the lower lid
    pts += [(19, -28), (29, -32), (42, -32), (52, -28), (42, -25), (29, -25)]
    outer = [
        (-25, 42),
        (-16, 37),
        (-6, 35),
        (0, 36),
        (6, 35),
        (16, 37),
        (25, 42),
        (16, 48),
        (6, 51),
        (0, 52),
        (-6, 51),
        (-16, 48),
    ]
    inner = [
        (-21, 42),
        (-7, 40),
        (0, 40.5),
        (7, 40),
        (21, 42),
        (7, 43.5),
        (0, 44),
        (-7, 43.5),
    ]
    pts += outer + inner  # 48-59, 60-67
    return np.asarray(pts, dtype=np.float64)


def _lower_edge(s: np.ndarray) -> np.ndarray:
    """y (mm) of the region's lower edge at canonical ``s``: under the chin at the
    midline, up to the ears."""
    r = np.clip(np.abs(s) / S_MAX_MM, 0.0, 1.0)
    return Y_CHIN_MM - (Y_CHIN_MM - Y_EAR_BOTTOM_MM) * r**1.6


IBUG68_CANONICAL = _ibug68()


def build_template(
    columns: int = 81, rows: int = 75, midline_density: float = 1.5
) -> FaceTemplate:
    """The face template grid: ``rows * columns`` vertices (6,075 by default).

    ``columns`` must be odd (a column on the midline). Columns are spaced as ``sinh``,
    about ``cosh(midline_density)`` times denser at the midline than at the ears; rows
    are evenly spaced between the hairline and the jaw-following lower edge.
    """
    if columns % 2 == 0 or columns < 5 or rows < 5:
        raise ValueError(
            "expected an odd number of columns >= 5 and rows >= 5, got "
            f"columns={columns}, rows={rows}"
        )
    t = np.linspace(-1.0, 1.0, columns)
    s_cols = S_MAX_MM * np.sinh(midline_density * t) / np.sinh(midline_density)
    s_cols[columns // 2] = 0.0
    s_cols = 0.5 * (s_cols - s_cols[::-1])  # exactly antisymmetric
    v = np.linspace(0.0, 1.0, rows)
    s_grid = np.broadcast_to(s_cols, (rows, columns))
    y_grid = Y_TOP_MM + v[:, None] * (_lower_edge(s_cols)[None, :] - Y_TOP_MM)
    canonical = np.stack([s_grid, y_grid], axis=-1).reshape(-1, 2)

    ids = np.arange(rows * columns).reshape(rows, columns)
    mirror = ids[:, ::-1].reshape(-1)
    faces = []
    half = columns // 2
    for r in range(rows - 1):
        for c in range(columns - 1):
            a, b, cc, d = ids[r, c], ids[r, c + 1], ids[r + 1, c], ids[r + 1, c + 1]
            # split along the diagonal that points away from the midline, mirrored on
            # each side; winding (a, cc, b): +s to the right, +y down, the normal points
            # to -z (out of the face)
            if c < half:
                faces += [(a, cc, d), (a, d, b)]
            else:
                faces += [(a, cc, b), (b, cc, d)]
    faces = np.asarray(faces, dtype=np.int64)

    # a landmark is the vertex nearest its canonical position; pairs of mirror landmarks
    # are snapped on the +s side and mirrored so that they are exact twins
    landmarks = np.empty(68, dtype=np.int64)
    for k, (s, y) in enumerate(IBUG68_CANONICAL):
        d2 = (canonical[:, 0] - abs(s)) ** 2 + (canonical[:, 1] - y) ** 2
        vid = int(np.argmin(d2))
        landmarks[k] = mirror[vid] if s < 0 else vid
    return FaceTemplate(
        canonical=canonical,
        faces=faces,
        mirror=mirror,
        landmarks=landmarks,
        grid_shape=(rows, columns),
    )

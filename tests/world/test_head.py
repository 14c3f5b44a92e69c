"""facelib.world.head: the whole head around a face, checked against independent
geometry (signed volumes, trimesh, convex hulls, nearest points) and renders.

Model frame: +x the subject's left, +y down, the face looks towards -z.
"""

from collections import Counter

import numpy as np
import pytest
import torch
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, cKDTree

from facelib.geometry import camera
from facelib.graphics.render import render
from facelib.world.head import (
    _BAND_BOTTOM,
    _BAND_ROWS,
    _THETAS,
    HAIR_STYLES,
    HeadStyle,
    build_head,
    eye_latitude,
    head_vertices,
    sample_head_styles,
)
from facelib.world.identity import (
    Identity,
    face_shape,
    sample_identities,
    surface_points,
)
from facelib.world.template import (
    HEAD_RADIUS_MM,
    IBUG68_CANONICAL,
    S_MAX_MM,
    Y_TOP_MM,
    build_template,
)

CLOSED_PARTS = ("torso", "ear_right", "ear_left", "eye_right", "eye_left")


@pytest.fixture(scope="module")
def template():
    return build_template()


@pytest.fixture(scope="module")
def mesh(template):
    return build_head(template)


@pytest.fixture(scope="module")
def identities(template):
    """The mean identity and three random ones, with their faces (P, 3)."""
    chosen = [Identity()] + sample_identities(3, np.random.default_rng(11))
    return [(identity, face_shape(identity, template)) for identity in chosen]


def part_faces(mesh, name):
    sl = mesh.parts[name]
    return mesh.faces[(mesh.faces >= sl.start).all(1) & (mesh.faces < sl.stop).all(1)]


def part_of(mesh, head_triangles):
    """The part's name of each of the head's triangles ``head_triangles``."""
    names = np.empty(len(mesh.faces), dtype=object)
    for name, sl in mesh.parts.items():
        names[(mesh.faces[:, 0] >= sl.start) & (mesh.faces[:, 0] < sl.stop)] = name
    return names[head_triangles].tolist()


def signed_volume(vertices, faces):
    """Volume enclosed by a closed triangle mesh: positive for outward winding."""
    return np.linalg.det(vertices[faces]).sum() / 6.0


def inside_scalp(vertices, mesh):
    """(hair vertices,) bool: inside the convex hull of the scalp's vertices."""
    hull = ConvexHull(vertices[mesh.parts["scalp"]])
    hair = vertices[mesh.parts["hair"]]
    return (hair @ hull.equations[:, :3].T + hull.equations[:, 3] <= 1e-9).all(1)


def shown_hair(vertices, mesh):
    """The hair vertices outside the scalp's convex hull: hair that shows."""
    return vertices[mesh.parts["hair"]][~inside_scalp(vertices, mesh)]


def front_hair(vertices, mesh):
    """Hair that shows in front of the forehead (|x| < 40 mm, z < -60 mm)."""
    hair = shown_hair(vertices, mesh)
    return hair[(np.abs(hair[:, 0]) < 40) & (hair[:, 2] < -60)]


def glabella_z(identity):
    """z of the glabella: the most forward point of the midline between the brows."""
    ys = np.arange(-60.0, -34.0, 1.0)
    return surface_points(identity, np.stack([np.zeros_like(ys), ys], -1))[:, 2].min()


# ------------------------------------------------------------------- topology


def test_parts_partition_the_vertices(template, mesh):
    slices = sorted(mesh.parts.values(), key=lambda s: s.start)
    assert slices[0].start == 0 and slices[-1].stop == mesh.n_points
    for a, b in zip(slices, slices[1:]):
        assert a.stop == b.start and a.stop > a.start
    assert set(mesh.parts) == {"scalp", "hair", "neck", "glasses", *CLOSED_PARTS}
    v = head_vertices(Identity(), HeadStyle(), template, mesh=mesh)
    assert v.shape == (mesh.n_points, 3) and np.isfinite(v).all()


def test_every_triangle_lies_in_one_part_and_indexes_in_range(mesh):
    f = mesh.faces
    assert f.ndim == 2 and f.shape[1] == 3 and np.issubdtype(f.dtype, np.integer)
    assert f.min() >= 0 and f.max() < mesh.n_points
    assert (f[:, 0] != f[:, 1]).all() and (f[:, 1] != f[:, 2]).all()
    assert (f[:, 0] != f[:, 2]).all()
    owners = np.zeros(len(f), dtype=int)
    for sl in mesh.parts.values():
        owners += ((f >= sl.start) & (f < sl.stop)).all(1)
    assert (owners == 1).all()
    # every vertex of a part is used by that part's triangles
    for name, sl in mesh.parts.items():
        used = np.unique(part_faces(mesh, name))
        assert np.array_equal(used, np.arange(sl.start, sl.stop)), name


def test_build_head_is_built_once_per_template(template, mesh):
    assert build_head(template) is mesh
    small = build_template(columns=41, rows=39)
    other = build_head(small)
    assert other is not mesh and build_head(small) is other
    assert other.eye_opening.shape == (small.n_points,)
    assert other.face_faces.max() < small.n_points
    assert other.eye_opening.sum() > 0
    assert np.array_equal(other.faces, mesh.faces)  # the head does not depend on it


def test_face_faces_drop_exactly_the_lid_openings(template, mesh):
    assert mesh.eye_opening.shape == (template.n_points,)
    assert mesh.eye_opening.dtype == bool
    inside = mesh.eye_opening[template.faces].all(1)
    assert 0 < inside.sum() < 200
    # the same triangles, in the template's order, less those inside an opening
    assert np.array_equal(mesh.face_faces, template.faces[~inside])
    kept = {tuple(t) for t in mesh.face_faces}
    assert kept <= {tuple(t) for t in template.faces}
    assert len(kept) == len(template.faces) - inside.sum()


def test_eye_openings_are_two_mirror_symmetric_regions_at_the_eyes(template, mesh):
    op = mesh.eye_opening
    assert np.array_equal(op, op[template.mirror])
    s = template.canonical[:, 0]
    assert op[s < 0].sum() == op[s > 0].sum() > 0 and not op[s == 0].any()
    # two connected regions over the template's edges, one per eye
    f = template.faces
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    edges = edges[op[edges].all(1)]
    graph = coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
        shape=(template.n_points,) * 2,
    )
    _, labels = connected_components(graph, directed=False)
    regions = [np.flatnonzero(op & (labels == k)) for k in np.unique(labels[op])]
    assert len(regions) == 2
    sides = sorted(np.unique(np.sign(s[r])).tolist() for r in regions)
    assert sides == [[-1.0], [1.0]]  # one region on each side of the midline
    for eye in (slice(36, 42), slice(42, 48)):
        lids = IBUG68_CANONICAL[eye]
        side = op & (np.sign(s) == np.sign(lids[:, 0].mean()))
        # inside the box of the eye's six landmarks, centred on it
        pts = template.canonical[side]
        assert (pts >= lids.min(0)).all() and (pts <= lids.max(0)).all()
        centre = template.canonical[side].mean(0)
        assert np.abs(centre - lids.mean(0)).max() < 3.0


# -------------------------------------------------------------- winding, volume


@pytest.mark.parametrize(
    "style",
    [HeadStyle(), HeadStyle(hair="bald", gaze=(25.0, -12.0), ear_size=1.2)],
)
def test_closed_parts_are_watertight_and_wound_outwards(
    template, mesh, identities, style
):
    for identity, face in identities[:3]:
        v = head_vertices(identity, style, template, mesh=mesh, face=face)
        for name in CLOSED_PARTS:
            f = part_faces(mesh, name)
            vol = signed_volume(v, f)
            tm = trimesh.Trimesh(v, f, process=False)
            assert vol > 0, name
            assert tm.is_watertight and tm.is_winding_consistent, name
            assert tm.volume == pytest.approx(vol, rel=1e-9)
    # the eyeballs: spheres of radius 12 mm
    v = head_vertices(Identity(), style, template, mesh=mesh)
    for name in ("eye_right", "eye_left"):
        eye = v[mesh.parts[name]]
        f = part_faces(mesh, name) - mesh.parts[name].start
        centre = eye.mean(0)
        np.testing.assert_allclose(np.linalg.norm(eye - centre, axis=1), 12.0)
        assert signed_volume(eye - centre, f) == pytest.approx(
            4 / 3 * np.pi * 12.0**3, rel=0.08
        )


def test_open_parts_face_away_from_the_head_seen_from_behind(template, mesh):
    """From behind, with back-face culling, the scalp and the hair show where they
    cover the head, and no triangle of the face (which faces away) wins a pixel."""
    face = face_shape(Identity(), template)
    P = len(face)
    for hair in ("bald", "long"):
        v = head_vertices(Identity(), HeadStyle(hair=hair), template, mesh=mesh)
        verts = torch.from_numpy(np.concatenate([face, v])).float()[None]
        faces = torch.from_numpy(np.concatenate([mesh.face_faces, mesh.faces + P]))
        q, t = camera.orbit_pose(torch.tensor([[180.0, 0.0, 0.0]]), 700.0)
        K = camera.intrinsics_from_fov(40.0, 96, 96)[None]
        out = render(
            verts,
            faces,
            torch.full_like(verts, 0.5),
            K,
            q,
            t,
            torch.tensor([[0.0, 0.0, 1.0]]),
            torch.zeros(1, 3, 96, 96),
        )
        tri = out.fragments.triangle[0]
        won = tri[tri >= 0].numpy()
        assert (won >= len(mesh.face_faces)).all()
        parts = Counter(part_of(mesh, won - len(mesh.face_faces)))
        assert parts["scalp"] + parts["hair"] > 500, parts


def test_crown_is_the_top_of_a_non_degenerate_dome(template, mesh):
    v = head_vertices(Identity(), HeadStyle(), template, mesh=mesh)
    scalp = v[mesh.parts["scalp"]]
    crown = mesh.parts["scalp"].stop - 1  # joined to every column of the first row
    fan = part_faces(mesh, "scalp")
    fan = fan[(fan == crown).any(1)]
    assert len(fan) == _THETAS
    tri = v[fan]
    area = np.linalg.norm(
        np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1
    )
    assert area.min() > 1.0
    assert np.argmin(scalp[:, 1]) == len(scalp) - 1


# ---------------------------------------------------------------- placement


def test_head_vertices_leave_the_face_alone(template, mesh, identities):
    identity = identities[1][0]
    face = face_shape(identity, template)
    before = face.copy()
    style = HeadStyle(hair="long", gaze=(10.0, 5.0))
    given = head_vertices(identity, style, template, mesh=mesh, face=face)
    np.testing.assert_array_equal(face, before)
    computed = head_vertices(identity, style, template, mesh=mesh)
    np.testing.assert_allclose(given, computed, atol=1e-9)
    again = head_vertices(identity, style, template)  # the cached mesh
    np.testing.assert_array_equal(again, computed)


def test_mean_head_is_mirror_symmetric(template, mesh):
    v = head_vertices(Identity(), HeadStyle(hair="fringe"), template, mesh=mesh)
    mirror = v * np.array([-1.0, 1.0, 1.0])
    for name in ("scalp", "hair", "neck", "torso"):
        d, _ = cKDTree(v[mesh.parts[name]]).query(mirror[mesh.parts[name]])
        assert d.max() < 1e-6, name
    for right, left in (("ear_right", "ear_left"), ("eye_right", "eye_left")):
        d, _ = cKDTree(v[mesh.parts[left]]).query(mirror[mesh.parts[right]])
        assert d.max() < 1e-6, right
    assert v[mesh.parts["ear_right"], 0].max() < 0 < v[mesh.parts["ear_left"], 0].min()
    assert v[mesh.parts["eye_right"], 0].max() < 0 < v[mesh.parts["eye_left"], 0].min()


def test_scalp_band_continues_the_face_surface(template, mesh, identities):
    rows, cols = template.grid_shape
    ids = np.arange(rows * cols).reshape(rows, cols)
    border = np.concatenate([ids[0], ids[:, 0], ids[:, -1]])
    border = border[template.canonical[border, 1] <= _BAND_BOTTOM]
    # the band's canonical points in front: its rows, at the columns' angles
    theta = np.linspace(-np.pi, np.pi, _THETAS, endpoint=False) + np.pi / _THETAS
    theta = theta[np.abs(theta) <= S_MAX_MM / HEAD_RADIUS_MM]
    band = np.stack(
        np.meshgrid(
            theta * HEAD_RADIUS_MM, np.linspace(Y_TOP_MM, _BAND_BOTTOM, _BAND_ROWS)
        ),
        -1,
    ).reshape(-1, 2)
    # on the region's border (the hairline row, the outermost columns) the band lies
    # on the face's surface; inside it, it sinks 10 mm so that the face shows
    border_band = (np.abs(band[:, 1] - Y_TOP_MM) < 1e-9) | (
        np.abs(band[:, 0]) > S_MAX_MM - np.radians(4.0) * HEAD_RADIUS_MM
    )
    for identity, face in identities[:3]:
        v = head_vertices(identity, HeadStyle(), template, mesh=mesh, face=face)
        scalp = v[mesh.parts["scalp"]]
        d, _ = cKDTree(scalp).query(surface_points(identity, band[border_band]))
        assert d.max() < 1e-6
        d, _ = cKDTree(scalp).query(surface_points(identity, band[~border_band]))
        assert d.min() > 5.0
        # no seam: the face's border (hairline, ears) lies on the scalp's surface
        tm = trimesh.Trimesh(v, part_faces(mesh, "scalp"), process=False)
        _, dist, _ = trimesh.proximity.closest_point(tm, face[border])
        assert dist.max() < 1.0


def test_head_length_runs_glabella_to_the_back(template, mesh):
    backs = []
    for length in (175.0, 190.0, 205.0):
        v = head_vertices(Identity(), HeadStyle(head_length=length), template)
        back = v[mesh.parts["scalp"], 2].max()
        assert back - glabella_z(Identity()) == pytest.approx(length, abs=3.0)
        backs.append(back)
    np.testing.assert_allclose(np.diff(backs), 15.0, atol=0.1)


def test_head_length_runs_glabella_to_the_back_for_every_identity(template, mesh):
    lengths = []
    for identity in sample_identities(8, np.random.default_rng(7)):
        v = head_vertices(identity, HeadStyle(head_length=190.0), template, mesh=mesh)
        lengths.append(v[mesh.parts["scalp"], 2].max() - glabella_z(identity))
    # the style sets the length, whatever the face (observed: a 13 mm range)
    assert np.ptp(lengths) < 6.0
    np.testing.assert_allclose(lengths, 190.0, atol=8.0)


def test_crown_and_back_bound_the_head(template, mesh, identities):
    for identity, face in identities:
        for style in (HeadStyle(), HeadStyle(crown=45.0, head_length=180.0)):
            v = head_vertices(identity, style, template, mesh=mesh, face=face)
            scalp = v[mesh.parts["scalp"]]
            # the top of the head is the scalp's dome, above the face's hairline...
            top = scalp[:, 1].min()
            assert top < face[:, 1].min() - 0.7 * style.crown
            assert top == pytest.approx(scalp[-1, 1], abs=3.0)  # near the crown
            # ...and the back of the head is behind every other part but the torso
            others = np.concatenate(
                [v[mesh.parts[n]] for n in ("ear_right", "ear_left", "eye_right")]
            )
            assert scalp[:, 2].max() > others[:, 2].max() + 25


def test_ears_sit_on_the_sides_behind_the_face(template, mesh, identities):
    for identity, face in identities:
        v = head_vertices(identity, HeadStyle(), template, mesh=mesh, face=face)
        for name, sign in (("ear_right", -1.0), ("ear_left", 1.0)):
            ear = v[mesh.parts[name]]
            c = ear.mean(0)
            rows = np.abs(face[:, 1] - c[1]) < 10.0
            assert sign * c[0] > np.abs(face[rows, 0]).max()
            assert (sign * ear[:, 0] > 50.0).all()
            assert c[2] > face[:, 2].min() + 60.0  # far behind the nose
            assert -60.0 < c[1] < 40.0  # between the brows and the jaw
            height = np.ptp(ear[:, 1])
            assert 45.0 < height < 75.0  # ears are ~60 mm long
    big = head_vertices(Identity(), HeadStyle(ear_size=1.2), template, mesh=mesh)
    one = head_vertices(Identity(), HeadStyle(), template, mesh=mesh)
    ear = mesh.parts["ear_left"]
    assert np.ptp(big[ear], axis=0) == pytest.approx(1.2 * np.ptp(one[ear], axis=0))


def test_eyeballs_sit_behind_the_lid_openings(template, mesh, identities):
    s = template.canonical[:, 0]
    for identity, face in identities:
        v = head_vertices(identity, HeadStyle(), template, mesh=mesh, face=face)
        for name, side in (("eye_right", s < 0), ("eye_left", s > 0)):
            opening = face[mesh.eye_opening & side]
            eye = v[mesh.parts[name]]
            centre = eye.mean(0)
            assert centre[2] > opening[:, 2].mean() + 5.0
            np.testing.assert_allclose(centre[:2], opening.mean(0)[:2], atol=1e-9)
            pole = eye[eye[:, 2].argmin()]  # the front pole, looking ahead
            assert cKDTree(opening).query(pole)[0] < 5.0
            np.testing.assert_allclose(pole[:2], centre[:2], atol=1e-9)


@pytest.mark.parametrize("gaze", [(0.0, 0.0), (20.0, 0.0), (0.0, -15.0), (-15, 10)])
def test_gaze_turns_both_eyes_and_eye_latitude_follows_it(template, mesh, gaze):
    latitude = eye_latitude()
    v = head_vertices(Identity(), HeadStyle(gaze=gaze), template, mesh=mesh)
    size = mesh.parts["eye_left"].stop - mesh.parts["eye_left"].start
    assert latitude.shape == (size,)
    assert latitude.min() == pytest.approx(0.0, abs=1e-9)
    assert latitude.max() == pytest.approx(180.0, abs=1e-9)
    dirs = []
    for name in ("eye_right", "eye_left"):
        eye = v[mesh.parts[name]]
        centre = eye.mean(0)
        axis = eye[latitude.argmin()] - centre
        axis /= np.linalg.norm(axis)
        dirs.append(axis)
        u = (eye - centre) / np.linalg.norm(eye - centre, axis=1, keepdims=True)
        angle = np.degrees(np.arccos(np.clip(u @ axis, -1, 1)))
        np.testing.assert_allclose(angle, latitude, atol=1e-6)
        # the gaze axis turned by the style's angles from straight ahead (-z)
        yaw, pitch = np.radians(gaze)
        off = np.degrees(np.arccos(-axis[2]))
        expected = np.degrees(np.arccos(np.cos(yaw) * np.cos(pitch)))
        assert off == pytest.approx(expected, abs=1e-6)
    np.testing.assert_allclose(dirs[0], dirs[1], atol=1e-12)  # parallel eyes


# --------------------------------------------------------------------- hair


def test_bald_head_shows_no_hair_on_top(template, mesh, identities):
    for identity, face in identities[:3]:
        for hair, hidden in (("bald", True), ("short", False), ("long", False)):
            v = head_vertices(
                identity, HeadStyle(hair=hair), template, mesh=mesh, face=face
            )
            h = v[mesh.parts["hair"]]
            inside = inside_scalp(v, mesh)
            top = h[:, 1] < -100.0
            assert top.sum() > 80
            if hidden:
                assert inside[top].all()
            else:
                assert inside[top].mean() < 0.02


def test_bald_head_keeps_a_fringe_round_the_back(template, mesh):
    v = head_vertices(Identity(), HeadStyle(hair="bald"), template, mesh=mesh)
    shown = shown_hair(v, mesh)
    shown = shown[shown[:, 1] < 30.0]  # above the jaw (sunk hair hides below it)
    assert len(shown) > 20
    assert (shown[:, 1] > -85.0).all()  # nothing on the top of the head
    assert (shown[:, 2] > -20.0).all()  # round the back and the sides, not the face
    assert shown[:, 2].max() > 50.0


def test_long_hair_hangs_lower_than_short_hair(template, mesh, identities):
    for identity, face in identities[:3]:
        low = {}
        for hair in ("short", "long", "tied"):
            v = head_vertices(
                identity, HeadStyle(hair=hair), template, mesh=mesh, face=face
            )
            low[hair] = shown_hair(v, mesh)[:, 1].max()
        assert low["long"] > low["short"] + 50.0
        assert low["long"] > low["tied"] + 50.0
        assert low["long"] > 100.0  # down to the shoulders


def test_only_a_fringe_hangs_over_the_forehead(template, mesh):
    face = face_shape(Identity(), template)
    lowest = {}
    for hair in HAIR_STYLES:
        v = head_vertices(Identity(), HeadStyle(hair=hair), template, mesh=mesh)
        front = front_hair(v, mesh)
        lowest[hair] = front[:, 1].max() if len(front) else -np.inf
    hairline = face[:, 1].min()
    assert lowest["fringe"] > hairline + 25.0
    for hair in ("short", "long", "tied"):
        assert hairline - 10.0 < lowest[hair] < hairline + 5.0, hair
    assert lowest["bald"] == -np.inf


def test_a_receding_hairline_goes_up(template, mesh):
    lowest = []
    for recession in (0.0, 10.0, 25.0):
        style = HeadStyle(hair="short", recession=recession)
        v = head_vertices(Identity(), style, template, mesh=mesh)
        lowest.append(front_hair(v, mesh)[:, 1].max())
    assert lowest[1] < lowest[0] - 5.0 and lowest[2] < lowest[1] - 5.0


def test_thicker_hair_stands_further_from_the_scalp(template, mesh):
    tops = []
    for thickness in (3.0, 8.0, 15.0):
        style = HeadStyle(hair_thickness=thickness)
        v = head_vertices(Identity(), style, template, mesh=mesh)
        tops.append(v[mesh.parts["scalp"], 1].min() - v[mesh.parts["hair"], 1].min())
    np.testing.assert_allclose(tops, [3.0, 8.0, 15.0], atol=1.5)


# ------------------------------------------------------------------- styles


def test_sample_head_styles_are_reproducible_and_plausible():
    a = sample_head_styles(400, np.random.default_rng(3))
    b = sample_head_styles(400, np.random.default_rng(3))
    c = sample_head_styles(400, np.random.default_rng(4))
    assert a == b and a != c
    assert all(isinstance(s, HeadStyle) for s in a)
    counts = Counter(s.hair for s in a)
    assert set(counts) == set(HAIR_STYLES)
    assert set(s.hair for s in sample_head_styles(200, np.random.default_rng(0))) == (
        set(HAIR_STYLES)
    )
    assert 0.25 < counts["short"] / 400 < 0.45
    length = np.array([s.head_length for s in a])
    assert length.mean() == pytest.approx(190.0, abs=1.5)
    assert length.std() == pytest.approx(7.0, abs=1.2)
    ear = np.array([s.ear_size for s in a])
    assert ear.mean() == pytest.approx(1.0, abs=0.015)
    assert ear.std() == pytest.approx(0.08, abs=0.015)
    thickness = np.array([s.hair_thickness for s in a])
    assert thickness.min() >= 3.0 and thickness.max() <= 15.0
    recession = np.array([s.recession for s in a])
    assert recession.min() >= 0.0 and recession.max() <= 25.0
    assert 0.55 < (recession == 0).mean() < 0.85
    gaze = np.array([s.gaze for s in a])
    assert np.abs(gaze.mean(0)).max() < 2.0


def test_every_sampled_head_is_finite(template, mesh, identities):
    styles = sample_head_styles(2 * len(identities), np.random.default_rng(9))
    for k, style in enumerate(styles):
        identity, face = identities[k % len(identities)]
        v = head_vertices(identity, style, template, mesh=mesh, face=face)
        assert np.isfinite(v).all()
        assert np.abs(v).max() < 400.0


# ---------------------------------------------------------------- rendering


def render_parts(template, mesh, style, *, size=128, parts=None, face_alone=True):
    """Frontal renders of the mean identity: the whole template alone, the face
    without the lid openings (``face_faces``) alone, and that face with the head's
    ``parts`` (all by default); and the number of ``face_faces``."""
    face = face_shape(Identity(), template)
    v = head_vertices(Identity(), style, template, mesh=mesh, face=face)
    P = len(face)
    names = parts or tuple(mesh.parts)
    head_faces = np.concatenate([part_faces(mesh, name) for name in names])
    q, t = camera.orbit_pose(torch.tensor([[0.0, 0.0, 0.0]]), 600.0)
    K = camera.intrinsics_from_fov(30.0, size, size)[None]
    light = torch.tensor([[0.3, -0.4, -1.0]])
    bg = torch.zeros(1, 3, size, size)

    def draw(vertices, faces):
        vertices = torch.from_numpy(vertices).float()[None]
        albedo = torch.full_like(vertices, 0.6)
        return render(vertices, torch.from_numpy(faces), albedo, K, q, t, light, bg)

    alone = draw(face, template.faces) if face_alone else None
    lids = draw(face, mesh.face_faces)
    both = draw(
        np.concatenate([face, v]), np.concatenate([mesh.face_faces, head_faces + P])
    )
    return alone, lids, both, len(mesh.face_faces)


def test_eyes_fill_the_lid_openings(template, mesh):
    alone, lids, both, F = render_parts(
        template, mesh, HeadStyle(), parts=("eye_right", "eye_left")
    )
    full = alone.fragments.mask[0]
    holes = full & ~lids.fragments.mask[0]
    assert holes.sum() > 10  # the openings show in a frontal view
    eye = both.fragments.triangle[0] >= F
    assert (both.fragments.mask[0] == full).all()  # no hole, nothing outside the face
    assert eye[holes].all()


def test_the_head_leaves_the_face_as_it_was(template, mesh):
    """Where the face shows both with and without the head, its pixels are the same:
    the head changes what surrounds the face, not the face."""
    _, lids, both, F = render_parts(template, mesh, HeadStyle(), face_alone=False)
    ta, tb = lids.fragments.triangle[0], both.fragments.triangle[0]
    shown = (tb >= 0) & (tb < F)
    assert shown.sum() > 1000
    np.testing.assert_array_equal(ta[shown], tb[shown])
    np.testing.assert_allclose(
        both.images[0][:, shown], lids.images[0][:, shown], atol=1e-6
    )
    # the head covers much more of the picture than the face alone
    assert both.fragments.mask.sum() > 1.5 * lids.fragments.mask.sum()


def test_eyeballs_stay_behind_the_lids(template, mesh):
    _, lids, both, F = render_parts(
        template,
        mesh,
        HeadStyle(),
        size=192,
        parts=("eye_right", "eye_left"),
        face_alone=False,
    )
    eye = both.fragments.triangle[0] >= F
    over_lids = eye & lids.fragments.mask[0]
    assert eye.sum() > 50
    assert over_lids.sum() < 0.1 * eye.sum()


def test_scalp_does_not_show_through_the_face(template, mesh):
    alone, _, both, F = render_parts(template, mesh, HeadStyle(hair="bald"))
    face = alone.fragments.mask[0]
    tri = both.fragments.triangle[0][face].numpy()
    parts = Counter(part_of(mesh, tri[tri >= F] - F))
    intruders = sum(n for name, n in parts.items() if not name.startswith("eye"))
    assert intruders < 0.01 * face.sum().item(), parts


# -------------------------------------------------------------------------- glasses


def test_glasses_rims_are_closed_rings_round_the_eyes_in_front_of_them(template, mesh):
    """Each rim is a closed tube (watertight, wound outwards, a torus: Euler number
    0) whose ring surrounds its eye's lid opening, seen from the front, 10-14 mm in
    front of the lids; the frame's tubes are as thick as the style says."""
    face = face_shape(Identity(), template)
    v = head_vertices(
        Identity(), HeadStyle(glasses=2.0), template, mesh=mesh, face=face
    )
    sl = mesh.parts["glasses"]
    f = part_faces(mesh, "glasses")
    tm = trimesh.Trimesh(v, f, process=False)
    pieces = tm.split(only_watertight=False, repair=False)
    assert len(pieces) == 5  # two rims, the bridge, two temples
    rims = [p for p in pieces if p.is_watertight]
    assert len(rims) == 2
    opening = face[mesh.eye_opening]
    front = opening[:, 2].min()
    for rim in rims:
        assert rim.is_winding_consistent and rim.volume > 0
        assert rim.euler_number == 0
        centre = rim.vertices.mean(0)
        eye = opening[np.sign(opening[:, 0]) == np.sign(centre[0])].mean(0)
        # the eye's opening inside the ring (50 x 34 mm) seen from the front
        assert abs(eye[0] - centre[0]) < 10 and abs(eye[1] - centre[1]) < 8
        assert 10.0 <= front - centre[2] <= 14.0
        width = np.ptp(rim.vertices[:, 0])
        assert 50.0 < width < 50.0 + 2 * 2.0 + 1e-6
    # tube radius: every frame vertex is 2 mm from the frame's centre line
    nearest = cKDTree(v[sl]).query(v[sl], k=2)[0][:, 1]
    assert nearest.min() > 1.0  # a square section of radius 2: sides 2.83 mm


def test_without_glasses_the_frame_hides_inside_the_skull(template, mesh):
    v = head_vertices(Identity(), HeadStyle(glasses=0.0), template, mesh=mesh)
    hull = ConvexHull(v[mesh.parts["scalp"]])
    frame = v[mesh.parts["glasses"]]
    inside = (hull.equations[:, :3] @ frame.T + hull.equations[:, 3:]).max(0) < 0
    assert inside.all()


def test_glasses_show_round_the_eyes_and_leave_the_face_alone(template, mesh):
    """Frontal renders with and without glasses: the frame wins pixels round the
    eyes (above the nose's tip, within the face's width), and where the face shows
    in both, its pixels are the same."""
    _, _, bare, F = render_parts(template, mesh, HeadStyle(), face_alone=False)
    _, _, worn, _ = render_parts(
        template, mesh, HeadStyle(glasses=2.0), face_alone=False
    )
    tri = worn.fragments.triangle[0]
    head = tri - F
    frame_pixels = torch.zeros_like(tri, dtype=torch.bool)
    ok = head >= 0
    names = np.array(part_of(mesh, head[ok].numpy()), dtype=object)
    frame_pixels[ok] = torch.from_numpy(names == "glasses")
    ys, xs = frame_pixels.nonzero(as_tuple=True)
    assert len(ys) > 100
    assert ys.float().mean() < 64  # the upper half of a 128 px frontal render
    face_both = (tri < F) & (tri >= 0) & (bare.fragments.triangle[0] < F)
    face_both &= bare.fragments.triangle[0] >= 0
    assert torch.equal(worn.images[0][:, face_both], bare.images[0][:, face_both])


def test_a_quarter_of_sampled_heads_wear_glasses():
    styles = sample_head_styles(800, np.random.default_rng(5))
    radius = np.array([s.glasses for s in styles])
    assert 0.2 < (radius > 0).mean() < 0.3
    assert radius[radius > 0].min() >= 1.2 and radius.max() <= 2.6
    assert len({s.frame_colour for s in styles}) == 3

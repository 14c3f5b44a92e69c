"""facelib.viz: every public function on small inputs returns what its docstring says.

References are written out here: matplotlib's colormaps called directly, the figure's
bytes base64-encoded by hand, triangle shading and drawing order derived by hand.
"""

import base64

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import pytest

from facelib import viz

plt.switch_backend("agg")

# a tetrahedron: 4 vertices (mm), 2 of its triangles
VERTICES = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0, 0, 1.5]])
FACES = np.array([[0, 1, 2], [0, 2, 3]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def embedded(values, dtype) -> str:
    """How plotly writes an array into the page: base64 of its bytes, '/' escaped."""
    raw = np.asarray(values, dtype=dtype).tobytes()
    return base64.b64encode(raw).decode().replace("/", "\\u002f")


# ------------------------------------------------------------------------ matplotlib
def test_image_grid_lays_out_images_titles_and_points():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 8, 6), dtype=np.uint8)  # (N, 3, H, W)
    points = rng.uniform(0, 6, (5, 4, 2))
    extra = rng.uniform(0, 6, (5, 2, 2))
    fig = viz.image_grid(
        images,
        columns=3,
        titles=[f"view {k}" for k in range(5)],
        points=points,
        more_points=[(extra, "red")],
    )
    assert isinstance(fig, matplotlib.figure.Figure)
    axes = fig.axes
    assert len(axes) == 6  # 2 rows of 3
    for k, ax in enumerate(axes[:5]):
        assert not ax.axison
        (shown,) = ax.images
        np.testing.assert_array_equal(shown.get_array(), images[k].transpose(1, 2, 0))
        assert ax.get_title() == f"view {k}"
        green, red = ax.lines
        np.testing.assert_array_equal(green.get_xdata(), points[k][:, 0])
        np.testing.assert_array_equal(green.get_ydata(), points[k][:, 1])
        assert green.get_color() == "lime" and red.get_color() == "red"
        np.testing.assert_array_equal(red.get_xdata(), extra[k][:, 0])
    assert not axes[5].images and not axes[5].lines and not axes[5].axison
    # channels-last float images are shown as they are
    hwc = rng.uniform(0, 1, (2, 8, 6, 3))
    fig = viz.image_grid(hwc, columns=1)
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), hwc[1])


@pytest.mark.parametrize("cmap", ["viridis", "magma"])
def test_error_colours_maps_zero_and_vmax_to_the_colormaps_ends(cmap):
    error = np.array([0.0, 1.0, 2.0, 4.0, 9.0, -3.0])
    colours = viz.error_colours(error, 4.0, cmap=cmap)
    ends = matplotlib.colormaps[cmap]
    assert colours.shape == (6, 3)
    expected = [ends(0.0), ends(0.25), ends(0.5), ends(1.0), ends(1.0), ends(0.0)]
    np.testing.assert_allclose(colours, np.array(expected)[:, :3])
    if cmap == "viridis":  # viridis' ends, from its published table
        np.testing.assert_allclose(colours[0], [0.267004, 0.004874, 0.329415])
        np.testing.assert_allclose(colours[3], [0.993248, 0.906157, 0.143936])


def test_draw_mesh_2d_draws_far_triangles_first_and_shades_by_normal():
    # two triangles in the image; triangle 0 is nearer (depth 100) than triangle 1
    # (depth 300), so triangle 1 is drawn first
    uv = np.array([[1, 1], [5, 1], [1, 5], [2, 2], [7, 2], [2, 7]], dtype=float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    depth = np.array([100.0, 100, 100, 300, 300, 300])
    fig, ax = plt.subplots()
    viz.draw_mesh_2d(ax, uv, faces, depth, image_size=(10, 8), color=(0.8, 0.6, 0.4))
    (collection,) = ax.collections
    drawn = [p.vertices[:3] for p in collection.get_paths()]
    np.testing.assert_allclose(drawn[0], uv[[3, 4, 5]])
    np.testing.assert_allclose(drawn[1], uv[[0, 1, 2]])
    np.testing.assert_allclose(
        collection.get_facecolors()[:, :3], [[0.8, 0.6, 0.4]] * 2
    )
    assert ax.get_xlim() == (-0.5, 9.5) and ax.get_ylim() == (7.5, -0.5)  # y down
    # shading: 0.35 + 0.65 |n . l|; with the light along -z, a triangle facing the
    # camera (normal along z) is fully lit, one seen edge-on (normal along x) is not
    cam = np.array(
        [[0, 0, 100], [1, 0, 100], [0, 1, 100], [0, 0, 300], [0, 1, 300], [0, 0, 301]],
        dtype=float,
    )
    fig, ax = plt.subplots()
    viz.draw_mesh_2d(
        ax,
        uv,
        faces,
        depth,
        image_size=(10, 8),
        vertices_cam=cam,
        light_dir=np.array([0.0, 0.0, -2.0]),
        color=(0.8, 0.6, 0.4),
    )
    colours = ax.collections[0].get_facecolors()[:, :3]
    np.testing.assert_allclose(colours[0], 0.35 * np.array([0.8, 0.6, 0.4]))  # far
    np.testing.assert_allclose(colours[1], [0.8, 0.6, 0.4])  # near, facing


def test_history_figure_plots_every_run_per_key():
    histories = {
        "single": [
            {"epoch": 1, "train_loss": 4.0, "loss": 5.0},
            {"epoch": 2, "train_loss": 2.0, "loss": 3.0},
        ],
        "multi": [{"epoch": 1, "train_loss": 8.0, "loss": 9.0}],
    }
    fig = viz.history_figure(histories)
    assert len(fig.axes) == 2
    for ax, key, label in zip(
        fig.axes, ("train_loss", "loss"), ("training loss", "validation loss")
    ):
        assert ax.get_ylabel() == label and ax.get_yscale() == "log"
        assert [line.get_label() for line in ax.lines] == ["single", "multi"]
        for line, history in zip(ax.lines, histories.values()):
            assert list(line.get_xdata()) == [h["epoch"] for h in history]
            assert list(line.get_ydata()) == [h[key] for h in history]


def test_preview_images_renders_a_mesh_on_the_background():
    # a 100 mm square at the origin of the model frame, both windings (one of them
    # faces the camera whatever the convention)
    square = np.array([[-50, -50, 0], [50, -50, 0], [50, 50, 0], [-50, 50, 0]], float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]])
    images = viz.preview_images(square, faces, yaw_deg=0.0, image_size=32)
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert (images[0, :2, :2] == 255).all()  # the white background in a corner
    centre = images[0, 16, 16]
    assert (centre < 250).all() and centre[0] == centre[1] == centre[2]  # grey albedo
    red = np.tile([1.0, 0.1, 0.1], (1, 4, 1))
    tinted = viz.preview_images(square, faces, albedo=red, yaw_deg=0.0, image_size=32)
    assert tinted[0, 16, 16, 0] > 2 * tinted[0, 16, 16, 1]


# --------------------------------------------------------------------------- plotly
def test_mesh_trace_holds_the_mesh():
    trace = viz.mesh_trace(VERTICES, FACES, name="tetra")
    assert isinstance(trace, go.Mesh3d) and trace.name == "tetra"
    for axis, values in zip("xyz", VERTICES.T):
        np.testing.assert_array_equal(getattr(trace, axis), values.astype(np.float32))
    for axis, values in zip("ijk", FACES.T):
        np.testing.assert_array_equal(getattr(trace, axis), values)
    assert trace.color == "lightsteelblue" and trace.intensity is None
    coloured = viz.mesh_trace(
        VERTICES, FACES, intensity=[0, 1, 2, 3], colorbar_title="mm", cmid=1.0
    )
    np.testing.assert_array_equal(coloured.intensity, [0, 1, 2, 3])
    assert coloured.color is None and coloured.colorbar.title.text == "mm"
    assert coloured.cmid == 1.0


def test_model_frame_scene_looks_at_the_face_forehead_up():
    scene = viz.model_frame_scene()
    assert scene["camera"]["up"] == dict(x=0, y=-1, z=0)  # +y is down in the model
    assert scene["camera"]["eye"]["z"] < 0  # the face looks towards -z
    assert scene["aspectmode"] == "data"
    assert viz.model_frame_scene(aspectmode="cube")["aspectmode"] == "cube"


def test_mesh_figure_embeds_the_data_and_no_cdn():
    out = viz.mesh_figure(
        [viz.mesh_trace(VERTICES, FACES), viz.mesh_trace(VERTICES + 1, FACES)],
        title="two",
        height_px=300,
    )
    assert isinstance(out, viz.PlotlyOutput)
    bundle = out._repr_mimebundle_()
    assert set(bundle) == {
        "text/html",
        "text/plain",
        "application/vnd.plotly.v1+json",
    }
    html = bundle["text/html"]
    # no plotly.js from a CDN, no script from anywhere: the book serves its own
    assert (
        "cdn" not in html.lower() and "http" not in html and "<script src" not in html
    )
    assert "Plotly.newPlot" in html and "300px" in html
    # the vertices and triangles are in the page
    for values, dtype in (
        (VERTICES[:, 0], np.float32),
        (VERTICES[:, 2] + 1, np.float32),
        (FACES[:, 1], np.int32),
    ):
        assert embedded(values, dtype) in html
    figure = bundle["application/vnd.plotly.v1+json"]
    assert [t["type"] for t in figure["data"]] == ["mesh3d", "mesh3d"]
    assert figure["layout"]["title"]["text"] == "two"
    assert bundle["text/plain"] == "<interactive plotly figure: 2 traces>"
    # the div's id names the figure: the same figure, the same id; another, another
    again = viz.mesh_figure(
        [viz.mesh_trace(VERTICES, FACES), viz.mesh_trace(VERTICES + 1, FACES)],
        title="two",
        height_px=300,
    )
    other = viz.mesh_figure([viz.mesh_trace(VERTICES, FACES)], summary="one mesh")
    assert again._div_id() == out._div_id() != other._div_id()
    assert other._div_id() in other._repr_mimebundle_()["text/html"]
    assert other._repr_mimebundle_()["text/plain"] == "one mesh"


def test_frame_curve_figure_draws_one_line_per_method_with_its_interval():
    summary = {
        "SV Mean": {1: (3.0, 2.9, 3.1), 3: (2.9, 2.8, 3.0), 30: (2.95, 2.9, 3.0)},
        "MV Concat": {3: (2.8, 2.7, 2.9)},
    }
    fig = viz.frame_curve_figure(summary, title="curve")
    ax = fig.axes[0]
    lines = ax.get_lines()
    x = lines[0].get_xdata()
    np.testing.assert_allclose(x / x[0], [1, 3, 30])  # shifted, not moved apart
    assert 0.9 < x[0] < 1.1
    np.testing.assert_allclose(lines[0].get_ydata(), [3.0, 2.9, 2.95])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "30"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "SV Mean",
        "MV Concat",
    ]
    assert ax.get_xscale() == "log"
    plt.close(fig)


def test_ablation_heatmaps_write_each_cell_and_mark_the_winners(made_up_ablation):
    """Cells coloured by their change against Eq. 2 (3.0 mm, 2.0 px), labelled with
    value and change; the bar marks Eq. 2 (0 %) and the virtual views (2.8 mm:
    -6.7 %)."""
    fig = viz.ablation_heatmaps(made_up_ablation)
    shape_ax, repro_ax, shape_bar, _ = fig.axes  # the heat maps, then their bars
    assert sorted(t.get_text() for t in shape_ax.texts) == sorted(
        ["2.900\n-3.3 %", "3.050\n+1.7 %", "3.500\n+16.7 %", "2.990\n-0.3 %"]
    )
    assert sorted(t.get_text() for t in repro_ax.texts) == sorted(
        ["2.50\n+25.0 %", "1.90\n-5.0 %", "2.10\n+5.0 %", "2.00\n+0.0 %"]
    )
    np.testing.assert_allclose(
        shape_ax.images[0].get_array(),
        100 * (np.array([[2.9, 3.05], [3.5, 2.99]]) / 3.0 - 1),
    )
    # a symmetric scale round Eq. 2, as wide as the largest change
    assert shape_ax.images[0].get_clim() == pytest.approx((-50 / 3, 50 / 3))
    assert "2 of 4 cells beat it" in shape_ax.get_title()
    assert [line.get_ydata()[0] for line in shape_bar.lines] == pytest.approx(
        [0.0, 100 * (2.8 / 3.0 - 1)]
    )
    assert [t.get_text() for t in shape_ax.get_xticklabels()] == ["0.01", "0.1"]


def test_scan_comparison_figure_puts_each_reconstruction_on_its_scan_copy():
    scan = VERTICES * 2
    out = viz.scan_comparison_figure(
        scan,
        FACES,
        {
            "3 frames": (VERTICES, FACES, np.array([0.0, 1.0, 2.0, 3.0])),
            # only the first triangle shown: vertex 3 (9 mm) does not set the scale
            "30 frames": (VERTICES + 0.5, FACES[:1], np.array([0.0, 0.5, 0.5, 9.0])),
        },
        shift_mm=100.0,
    )
    data = out.fig.data
    assert [t.name for t in data] == [
        "scan (3 frames)",
        "3 frames",
        "scan (30 frames)",
        "30 frames",
    ]
    # 100 mm apart, centred: -50 and +50 along x
    np.testing.assert_allclose(data[0].x, scan[:, 0] - 50, atol=1e-5)
    np.testing.assert_allclose(data[3].x, VERTICES[:, 0] + 0.5 + 50, atol=1e-5)
    assert list(data[3].i) == [0] and len(data[1].i) == 2
    # one colour scale for both, its bar drawn once
    assert [(t.cmin, t.cmax) for t in (data[1], data[3])] == [(0.0, 3.0), (0.0, 3.0)]
    assert (data[1].showscale, data[3].showscale) == (True, False)
    np.testing.assert_allclose(data[3].intensity, [0.0, 0.5, 0.5, 9.0])

"""Figures for the book: meshes drawn through cameras (matplotlib), interactive 3D
(plotly), curves.

Plotly figures are shown through :class:`PlotlyOutput`, which gives Jupyter a bundle of

* ``text/html``: the figure's ``<div>`` and the script that draws it, *without*
  plotly.js; the built book serves the ``plotly.min.js`` shipped inside the plotly
  package from its ``_static/`` folder, so the pages work with no network;
* ``application/vnd.plotly.v1+json``: the figure itself, which JupyterLab's plotly
  renderer draws;
* ``text/plain``: a one-line summary.

Everything here draws; nothing computes results the book reports.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = [
    "PlotlyOutput",
    "mesh_trace",
    "mesh_figure",
    "draw_mesh_2d",
    "model_frame_scene",
]


class PlotlyOutput:
    """Jupyter display of a plotly figure that works offline in the book and in
    JupyterLab."""

    def __init__(self, fig, *, height_px: int = 520, summary: str | None = None):
        self.fig = fig
        self.height_px = int(height_px)
        n = len(fig.data)
        self.summary = (
            summary or f"<interactive plotly figure: {n} trace{'s' * (n != 1)}>"
        )

    def _div_id(self) -> str:
        payload = json.dumps(
            self.fig.to_plotly_json(), sort_keys=True, default=str
        ).encode()
        return "facelib-plot-" + hashlib.sha256(payload).hexdigest()[:16]

    def _repr_mimebundle_(self, include=None, exclude=None):
        html = self.fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=self._div_id(),
            default_height=f"{self.height_px}px",
            default_width="100%",
            config={"displaylogo": False, "responsive": True},
        )
        return {
            "text/html": html,
            "application/vnd.plotly.v1+json": self.fig.to_plotly_json(),
            "text/plain": self.summary,
        }


def model_frame_scene(**overrides) -> dict:
    """A plotly ``scene`` layout for model-frame meshes: the face looks at the viewer,
    forehead up.

    The model frame has +y down and the face looking towards -z (see
    :mod:`facelib.geometry.camera`), so the default view puts the eye on the -z side
    with -y as "up".
    """
    scene = dict(
        xaxis=dict(title="x (mm, subject's left)"),
        yaxis=dict(title="y (mm, down)"),
        zaxis=dict(title="z (mm, back)"),
        aspectmode="data",
        camera=dict(up=dict(x=0, y=-1, z=0), eye=dict(x=0.35, y=-0.25, z=-1.9)),
    )
    scene.update(overrides)
    return scene


def mesh_trace(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    intensity: np.ndarray | None = None,
    name: str = "mesh",
    colorscale: str = "RdBu_r",
    color: str = "lightsteelblue",
    colorbar_title: str | None = None,
    cmid: float | None = None,
    **kwargs,
):
    """A ``plotly.graph_objects.Mesh3d`` of vertices (P, 3) in mm and triangles (F,
    3)."""
    import plotly.graph_objects as go

    v = np.asarray(
        vertices, dtype=np.float32
    )  # float32 halves the figure's size in the notebook
    f = np.asarray(faces, dtype=np.int32)
    args = dict(
        x=v[:, 0],
        y=v[:, 1],
        z=v[:, 2],
        i=f[:, 0],
        j=f[:, 1],
        k=f[:, 2],
        name=name,
        flatshading=False,
        lighting=dict(ambient=0.45, diffuse=0.7, specular=0.15, roughness=0.8),
    )
    if intensity is not None:
        args.update(
            intensity=np.asarray(intensity, dtype=np.float32),
            colorscale=colorscale,
            cmid=cmid,
            colorbar=dict(title=colorbar_title or ""),
        )
    else:
        args.update(color=color)
    args.update(kwargs)
    return go.Mesh3d(**args)


def mesh_figure(
    traces, *, title: str = "", height_px: int = 520, summary: str | None = None
) -> PlotlyOutput:
    """Wrap Mesh3d traces in a figure with the model-frame view; returns a displayable
    output."""
    import plotly.graph_objects as go

    fig = go.Figure(data=list(traces))
    fig.update_layout(
        title=title,
        scene=model_frame_scene(),
        margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        height=height_px,
    )
    return PlotlyOutput(fig, height_px=height_px, summary=summary)


def draw_mesh_2d(
    ax,
    uv: np.ndarray,
    faces: np.ndarray,
    depth: np.ndarray,
    *,
    image_size: tuple[int, int],
    light_dir: np.ndarray | None = None,
    vertices_cam: np.ndarray | None = None,
    color=(0.85, 0.72, 0.62),
    edgecolor="none",
    alpha: float = 1.0,
) -> None:
    """Draw a mesh projected to the image with the painter's algorithm (far triangles
    first).

    Args:
        ax: a matplotlib Axes; its y axis is flipped so that image y runs down.
        uv: pixel coordinates of the vertices (P, 2).
        faces: triangles (F, 3).
        depth: camera-frame z of the vertices (P,) in mm, for the drawing order.
        image_size: (width, height) in pixels; sets the axes limits.
        vertices_cam: camera-frame vertices (P, 3); when given, triangles are shaded by
        their normal.
    """
    from matplotlib.collections import PolyCollection

    uv = np.asarray(uv)
    faces = np.asarray(faces)
    order = np.argsort(-np.asarray(depth)[faces].mean(axis=1))
    tris = uv[faces[order]]
    base = np.asarray(color, dtype=np.float64)
    if vertices_cam is not None:
        v = np.asarray(vertices_cam)[faces[order]]
        n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
        light = (
            np.array([0.3, -0.4, -1.0])
            if light_dir is None
            else np.asarray(light_dir, dtype=np.float64)
        )
        light /= np.linalg.norm(light)
        shade = 0.35 + 0.65 * np.abs(n @ light)
        facecolors = np.clip(shade[:, None] * base[None, :], 0, 1)
    else:
        facecolors = [tuple(base)] * len(tris)
    ax.add_collection(
        PolyCollection(
            tris,
            facecolors=facecolors,
            edgecolors=edgecolor,
            linewidths=0.2,
            alpha=alpha,
        )
    )
    width, height = image_size
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_aspect("equal")


def preview_images(
    vertices,
    faces,
    *,
    albedo=None,
    yaw_deg: float = 20.0,
    pitch_deg: float = 0.0,
    image_size: int = 160,
    distance_mm: float = 650.0,
    background: float = 1.0,
):
    """Quick portraits of meshes (B, P, 3) in mm, model frame, with
    :func:`facelib.graphics.render.render`.

    ``albedo`` (B, P, 3) in [0, 1] (default: a neutral grey); the light comes from the
    upper left of the camera. Returns uint8 images (B, H, W, 3) for ``imshow``.
    """
    import torch

    from facelib.geometry.camera import (
        intrinsics_from_fov,
        orbit_pose,
        quaternion_to_matrix,
    )
    from facelib.graphics.render import render

    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    if v.dim() == 2:
        v = v[None]
    B = v.shape[0]
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    a = (
        torch.full_like(v, 0.75)
        if albedo is None
        else torch.as_tensor(np.asarray(albedo), dtype=torch.float32).reshape(v.shape)
    )
    q, t = orbit_pose(
        torch.tensor([[yaw_deg, pitch_deg, 0.0]]).expand(B, 3), distance_mm
    )
    K = intrinsics_from_fov(24.0, image_size, image_size).expand(B, 3, 3)
    light = torch.nn.functional.normalize(torch.tensor([[-0.4, -0.5, -1.0]]), dim=-1)
    light = (
        quaternion_to_matrix(q).transpose(-1, -2) @ light[0]
    )  # fixed relative to the camera
    bg = torch.full((B, 3, image_size, image_size), background)
    images = render(v, f, a, K, q, t, light, bg, ambient=0.35, diffuse=0.7).images
    return (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def image_grid(
    images,
    *,
    columns: int,
    titles=None,
    points=None,
    size: float = 1.6,
    point_colour: str = "lime",
    more_points=(),
):
    """A matplotlib grid of images ((N, H, W, 3) or (N, 3, H, W), uint8 or float), with
    optional titles and points (N, L, 2) in pixels drawn on top (``more_points``:
    further ``(points, colour)`` pairs). Returns the figure."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 3 and images.shape[-1] != 3:
        images = images.transpose(0, 2, 3, 1)
    n = len(images)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(size * columns, size * rows), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k])
        for pts, colour in (
            [(points, point_colour)] if points is not None else []
        ) + list(more_points):
            ax.plot(pts[k][:, 0], pts[k][:, 1], ".", color=colour, ms=1.5)
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def error_colours(
    error_mm: np.ndarray, vmax_mm: float, cmap: str = "viridis"
) -> np.ndarray:
    """Per-vertex RGB (P, 3) in [0, 1] for an error map from 0 to ``vmax_mm``."""
    import matplotlib

    return matplotlib.colormaps[cmap](np.clip(np.asarray(error_mm) / vmax_mm, 0, 1))[
        :, :3
    ]


def history_figure(
    histories: dict[str, list[dict]],
    keys=("train_loss", "loss"),
    labels=("training loss", "validation loss"),
):
    """Loss curves per epoch for several runs (``histories``: name -> the ``history`` of
    a training run)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.2), squeeze=False)
    for ax, key, label in zip(axes[0], keys, labels):
        for name, history in histories.items():
            ax.plot(
                [h["epoch"] for h in history],
                [h[key] for h in history],
                marker="o",
                ms=3,
                label=name,
            )
        ax.set(xlabel="epoch", ylabel=label, yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def frame_curve_figure(
    summary: dict[str, dict[int, tuple[float, float, float]]],
    *,
    title: str = "",
):
    """ARMSE (mm) against the number of frames, one line per method with its 95 %
    bootstrap interval as error bars (a method with one count is one point); log x,
    the methods drawn a few per cent apart along it so that their bars do not
    overlap."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, NullLocator

    fig, ax = plt.subplots(figsize=(6, 3.6))
    shown = set()
    for k, (name, by_count) in enumerate(summary.items()):
        counts = sorted(by_count)
        shown.update(counts)
        mean = np.array([by_count[n][0] for n in counts])
        low = mean - np.array([by_count[n][1] for n in counts])
        high = np.array([by_count[n][2] for n in counts]) - mean
        # the methods' bars side by side (a small shift along the log axis)
        x = np.array(counts, dtype=float) * 1.04 ** (k - (len(summary) - 1) / 2)
        ax.errorbar(x, mean, yerr=[low, high], marker="o", capsize=3, label=name)
    ax.set(xscale="log", xlabel="frames of the capture", ylabel="ARMSE (mm)")
    ax.set_xticks(sorted(shown), [str(n) for n in sorted(shown)])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def ablation_heatmaps(ablation, *, title: str = ""):
    """The loss ablation's grid (:class:`facelib.learn.ablation.Ablation`) as two heat
    maps over (β, γ), the aligned shape error and the reprojection error: each
    multi-term cell coloured by its change against the paper's single term (Eq. 2; %,
    green below it, red above, white equal) and labelled with its value (mm, px) and
    that change. The colour bar marks Eq. 2 at 0 % (solid), Eq. 2 + virtual views
    (dashed), Eq. 2 with the pose warm-up (dotted, if any) and Eq. 2 decoupled
    (dash-dotted, if any)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.1))
    panels = (
        ("shape_aligned_mm", "aligned shape error", "mm", "{:.3f}"),
        ("reprojection_px", "reprojection error", "px", "{:.2f}"),
    )
    for ax, (metric, label, unit, form) in zip(axes, panels):
        values = ablation.values(metric)
        single = getattr(ablation.single.metrics, metric)
        change = 100.0 * (values / single - 1.0)
        marks = [(ablation.virtual, "--")]
        if ablation.single_warmup is not None:
            marks.append((ablation.single_warmup, ":"))
        if ablation.decoupled is not None:
            marks.append((ablation.decoupled, "-."))
        marked = [
            (100.0 * (getattr(c.metrics, metric) / single - 1.0), style)
            for c, style in marks
        ]
        top = max(np.abs(change).max(), *(abs(v) for v, _ in marked), 1.0)
        image = ax.imshow(change, cmap="RdYlGn_r", vmin=-top, vmax=top, aspect="auto")
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                ax.text(
                    j,
                    i,
                    f"{form.format(values[i, j])}\n{change[i, j]:+.1f} %",
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color="white" if abs(change[i, j]) > 0.6 * top else "black",
                )
        ax.set_xticks(range(len(ablation.gammas)), [f"{g:g}" for g in ablation.gammas])
        ax.set_yticks(range(len(ablation.betas)), [f"{b:g}" for b in ablation.betas])
        ax.set(xlabel="γ (translation weight, per mm²)", ylabel="β (rotation weight)")
        bar = fig.colorbar(image, ax=ax, label=f"{label}: change against Eq. 2 (%)")
        bar.ax.axhline(0.0, color="black", linewidth=2)
        for value, style in marked:
            bar.ax.axhline(value, color="black", linewidth=1.5, linestyle=style)
        ax.set_title(
            f"{label}; Eq. 2: {form.format(single)} {unit}\n"
            f"{ablation.beating(metric)} of {values.size} cells beat it",
            fontsize=9,
        )
    fig.suptitle(title or "Multi-term loss over (β, γ) against the single term (Eq. 2)")
    fig.tight_layout()
    return fig


def scan_comparison_figure(
    scan_vertices: np.ndarray,
    scan_faces: np.ndarray,
    reconstructions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    title: str = "",
    summary: str | None = None,
    shift_mm: float = 190.0,
    cmax_mm: float | None = None,
) -> PlotlyOutput:
    """Reconstructions side by side, each over its own copy of the scan (grey,
    translucent), coloured by one shared scale of their distance to it.

    Args:
        scan_vertices, scan_faces: the scan (V, 3) mm and the triangles shown (F, 3)
            (e.g. the protocol's crop, :func:`facelib.evaluation.metrics.
            scan_crop_faces`).
        reconstructions: label -> (vertices (P, 3) mm aligned onto the scan, the
            triangles shown (F', 3), distances (P,) mm to the scan), drawn left to
            right ``shift_mm`` apart (e.g. from
            :func:`facelib.evaluation.captures.aligned_on_scan`).
        cmax_mm: the top of the colour scale (default: the largest distance of a
            vertex of a triangle shown).
    """
    items = list(reconstructions.items())
    top = cmax_mm or max(
        float(np.max(np.asarray(d)[np.unique(f)])) for _, (_, f, d) in items
    )
    traces = []
    for k, (label, (vertices, faces, distances)) in enumerate(items):
        shift = np.array([(k - (len(items) - 1) / 2) * shift_mm, 0.0, 0.0])
        traces.append(
            mesh_trace(
                np.asarray(scan_vertices) + shift,
                scan_faces,
                name=f"scan ({label})",
                opacity=0.35,
                color="lightgrey",
            )
        )
        traces.append(
            mesh_trace(
                np.asarray(vertices) + shift,
                faces,
                intensity=distances,
                colorscale="Viridis",
                colorbar_title="mm",
                name=label,
                cmin=0.0,
                cmax=top,
                showscale=k == 0,
            )
        )
    return mesh_figure(traces, title=title, summary=summary)

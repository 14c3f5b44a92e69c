# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The method: camera, morphable model and one reprojection loss
#
# **Overview.** This chapter sets out the three pieces of geometry that the whole book
# stands on, following sections 3.1-3.2 of Ramon, Escur and Giró-i-Nieto (ICCV-W 2019):
#
# 1. the pinhole camera of Eq. 3-4, $u \sim K\,[R(q)\,|\,t]\,X$, with our axis
#    conventions;
# 2. a 3D morphable model (3DMM), Eq. 1, $s = m + \Phi\,\alpha$, built by Procrustes
#    alignment and PCA;
# 3. the single-term loss of Eq. 2: the squared reprojection error of all model points,
#    summed over views, which learns shape and camera pose together without weights to
#    tune.
#
# *Inputs:* none. *Outputs:* figures only. *Run time:* seconds for every profile
# (`smoke`, `cpu` and `paper` only change the number of synthetic faces and the
# resolution of the loss sweeps).
#
# ```{note}
# The faces here come from the project's synthetic face world (`facelib.world.template`,
# `facelib.world.identity`): a face template with the iBUG-68 landmarks and a generator
# of anatomically parameterised identities. In this chapter the 3DMM is fit directly on
# generated faces, which are already in template topology; the data set chapter builds
# it as the paper does, from raw scans registered to the template.
# ```

# %% tags=["parameters"]
profile = "smoke"  # parameter file of this run: notebooks/params/<profile>.yaml
seed = 0  # seeds the synthetic faces and the example scene
n_shapes = 40  # number of synthetic faces the 3DMM is built from
sweep_steps = 21  # points per axis of the loss sweeps

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import trimesh

from facelib import viz
from facelib.data.template import NOSE_TIP
from facelib.geometry import camera
from facelib.geometry.morphable_model import MorphableModel
from facelib.learn import loss_landscape
from facelib.world.identity import face_shapes, sample_identities
from facelib.world.template import build_template

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(seed)
print(f"profile {profile}: {n_shapes} faces, {sweep_steps} sweep steps, seed {seed}")

# %% [markdown]
# ## 1. A population of faces and its 3DMM
#
# The template is a grid of 6,075 vertices over the face region, from the hairline to
# under the chin and from ear to ear, exactly symmetric (each vertex has a mirror twin)
# and carrying the 68 iBUG landmarks. Each identity is drawn from 25 anatomical
# parameters (face width and height, forehead slope, brow ridge, eye spacing and
# sockets, nose length, width, bridge and projection, cheekbones, lips, chin, jaw, a
# little asymmetry, ...) plus a smooth random residual field.

# %%
template = build_template()
shapes = face_shapes(sample_identities(n_shapes, rng), template)
faces = template.faces
nose_tip = int(template.landmarks[NOSE_TIP])
model = MorphableModel.fit(
    shapes,
    faces=faces,
    landmarks=template.landmarks,
    mirror=template.mirror,
    variance=0.99,
)
print(
    f"{n_shapes} faces of {model.n_points} vertices -> {model.n_modes} modes explain "
    "99 % of the variance"
)
rms_per_sigma = model.std / np.sqrt(model.n_points)
print("RMS vertex displacement of one σ of the first five modes (mm):")
print(np.round(rms_per_sigma[:5], 2))

# %% [markdown]
# Procrustes alignment removes position, orientation and overall size before PCA
# (paper, 4.1), so the modes describe shape alone. The explained variance grows quickly
# with the first modes:

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ratio = model.explained_variance_ratio()
ax.plot(np.arange(1, len(ratio) + 1), 100 * ratio, marker="o", ms=3)
ax.axhline(99, color="gray", ls="--", lw=1)
ax.axvline(model.n_modes, color="gray", ls=":", lw=1)
ax.set(
    xlabel="number of modes",
    ylabel="explained variance (%)",
    title="PCA of the aligned shapes",
)
fig.tight_layout()

# %% [markdown]
# ## 2. The camera model
#
# A camera is a calibration matrix $K$ (pixels) and a pose $[R(q)\,|\,t]$ that maps
# model coordinates (mm) to camera coordinates, with $q = (w, x, y, z)$ a unit
# quaternion. The model frame has $+x$ to the subject's left, $+y$ down and the face
# looking towards $-z$; the camera frame is OpenCV's ($+z$ forward). So a camera with
# $R = I$ and $t = (0, 0, d)$ looks at the face from the front, and the subject's left
# eye shows on the image's right, as when we face someone. Head pose angles (yaw,
# pitch, roll) describe a camera relative to the face; yaw $> 0$ shows the subject's
# left cheek.

# %%
width = height = 160
K = camera.intrinsics_from_fov(30.0, width, height, dtype=torch.float64)
distance = 600.0
yaws = torch.tensor([-60.0, -30.0, 0.0, 30.0, 60.0])
q_views, t_views = camera.orbit_pose(
    torch.stack([yaws, torch.zeros(5), torch.zeros(5)], -1), distance
)
mean_shape = torch.from_numpy(model.mean)
print("K (pixels) =\n", np.round(K.numpy(), 1))
nose = mean_shape[nose_tip : nose_tip + 1]
nose_uv = camera.project(nose, K, q_views[2], t_views[2])[0]
print(
    f"frontal camera: the nose tip lands at ({nose_uv[0]:.1f}, {nose_uv[1]:.1f}) px, "
    f"principal point ({K[0, 2]:.1f}, {K[1, 2]:.1f}) px"
)

# %%
uv = camera.project(mean_shape, K, q_views, t_views)  # (5 views, P, 2) pixels
cam_pts = camera.model_to_camera(mean_shape, q_views, t_views)  # (5 views, P, 3) mm
fig, axes = plt.subplots(1, 5, figsize=(13, 3))
for ax, yaw, uv_v, cam_v in zip(axes, yaws.tolist(), uv, cam_pts):
    viz.draw_mesh_2d(
        ax,
        uv_v.numpy(),
        faces,
        cam_v[:, 2].numpy(),
        image_size=(width, height),
        vertices_cam=cam_v.numpy(),
    )
    ax.plot(*uv_v[template.landmarks].numpy().T, "r.", ms=2)
    ax.set_title(f"yaw {yaw:+.0f}°")
fig.suptitle("the mean face through five cameras at 600 mm (red: the 68 landmarks)")
fig.tight_layout()

# %% [markdown]
# ## 3. The modes of the 3DMM
#
# Eq. 1 with standard-normal coefficients: $s = m + \sum_k \alpha_k\,\sigma_k\,c_k$.
# Each row moves one coefficient to $-3$ and $+3$ standard deviations, seen from the
# front and from the side.

# %%
n_show = min(3, model.n_modes)
side_q, side_t = camera.orbit_pose(torch.tensor([90.0, 0.0, 0.0]), distance)
views_3d = {"front": (q_views[2], t_views[2]), "side": (side_q, side_t)}
panels = [(sigma, view) for view in views_3d for sigma in (-3, 3)]
fig, axes = plt.subplots(n_show, 4, figsize=(10, 2.6 * n_show), squeeze=False)
for k in range(n_show):
    for ax, (sigma, view) in zip(axes[k], panels):
        alpha = torch.zeros(model.n_modes)
        alpha[k] = sigma
        s = model.shape(alpha)
        q_v, t_v = views_3d[view]
        cam_v = camera.model_to_camera(s, q_v, t_v)
        viz.draw_mesh_2d(
            ax,
            camera.project(s, K, q_v, t_v).numpy(),
            faces,
            cam_v[:, 2].numpy(),
            image_size=(width, height),
            vertices_cam=cam_v.numpy(),
        )
        ax.set_title(f"mode {k + 1}, {sigma:+d}σ, {view}", fontsize=9)
        ax.axis("off")
fig.tight_layout()

# %% [markdown]
# The same first mode in 3D: the colour is the displacement along the surface normal at
# $+3\sigma$ (mm). Drag to turn the head.

# %% tags=["nbval-ignore-output"]
displacement = 3 * model.std[0] * model.components[0]
normals = trimesh.Trimesh(model.mean, faces, process=False).vertex_normals
viz.mesh_figure(
    [
        viz.mesh_trace(
            model.mean,
            faces,
            intensity=(displacement * normals).sum(1),
            cmid=0.0,
            colorbar_title="mm",
            name="mode 1 at +3σ",
        )
    ],
    title="mean shape coloured by the first mode",
    summary=(
        f"<interactive 3D view: mean shape, {model.n_points} vertices, "
        "coloured by mode 1>"
    ),
)

# %% [markdown]
# ## 4. One loss for shape and pose (Eq. 2)
#
# $$
# \mathcal{L} = \sum_{v=1}^{V} \big\| \mathcal{P}(q_v, t_v)(s)
#   - \mathcal{P}(\hat q_v, \hat t_v)(\hat s) \big\|_2^2
# $$
#
# The ground-truth shape $s$ through the true camera of each view is compared with the
# predicted shape $\hat s$ through the predicted camera of that view; we average over
# the $P$ points, so the unit is pixels². A wrong yaw, a wrong distance and a wrong
# shape all move the projected points, so a single term, with no weights, trains all
# three outputs. Below, one example subject is seen by the paper's three views (yaw
# $-45°$, $0°$, $45°$) and the prediction moves away from the truth along one axis at a
# time: the dashed curves use the frontal view alone ($V = 1$), the solid ones all three
# ($V = 3$). The true scene and the sweeps come from `facelib.learn.loss_landscape`
# (`TrueScene`, and `loss_sweeps`, which scores perturbed predictions with
# `perturbed_loss`).

# %%
scene = loss_landscape.TrueScene.from_views(
    model,
    alpha=model.sample_coefficients(1, rng)[0],
    K=K,
    view_yaws=[-45.0, 0.0, 45.0],
    distance=distance,
)
view_subsets = {1: [1], 3: None}  # V = 1: the frontal view alone; V = 3: all three
sweeps = {
    V: loss_landscape.loss_sweeps(scene, sweep_steps, views=views)
    for V, views in view_subsets.items()
}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, name in zip(axes, loss_landscape.SWEEP_LABELS):
    for V, style in [(1, "--"), (3, "-")]:
        sweep = sweeps[V][name]
        ax.plot(sweep.x.numpy(), sweep.loss.numpy(), style, label=f"V = {V}")
    ax.set(xlabel=sweep.label, ylabel="loss (px²)", yscale="symlog")
axes[0].legend()
fig.tight_layout()
at_truth = loss_landscape.perturbed_loss(scene, views=view_subsets[3])
print(f"loss at the truth (V = 3): {at_truth.item():.2f} px²")

# %% [markdown]
# ### Exchange rates between shape and pose errors
#
# All errors are paid in the same currency, pixels², so the one term needs no weights.
# Reading the sweeps above at small errors gives the exchange rate: how much yaw or
# distance error costs as much as one standard deviation of error on the first shape
# mode. Near the truth the loss is quadratic in each error,
# $\mathcal{L} \approx c\,x^2$; `quadratic_cost` reads $c$ at the first step of a
# sweep (the loss there over the step squared), and `exchange_rate` compares the three.

# %%
for V in (1, 3):
    rate = loss_landscape.exchange_rate(sweeps[V])
    print(
        f"V = {V}: 1σ of α₁ costs {rate.alpha_cost:.2f} px², as much as "
        f"{rate.yaw_per_sigma:.2f}° of yaw or "
        f"{rate.distance_per_sigma:.1f} mm of distance"
    )

# %% [markdown]
# ### Per mode, per view
#
# How much does one standard deviation of each mode move the projected points in one
# view? The frontal view alone against the average over the three views
# (`per_mode_cost`): a ratio below one (printed below the chart) marks a mode that moves
# the points of the frontal view less than those of the side views, a change that a
# single frontal photograph sees least.

# %%
per_view = {
    V: loss_landscape.per_mode_cost(scene, views=views)
    for V, views in view_subsets.items()
}
modes = np.arange(1, model.n_modes + 1)
fig, ax = plt.subplots(figsize=(8, 3))
for V, offset in [(1, -0.2), (3, 0.2)]:
    label = f"V = {V} (per view)"
    ax.bar(modes + offset, per_view[V].numpy(), width=0.4, label=label)
ax.set(xlabel="mode", ylabel="loss per view at +1σ (px²)", yscale="log")
ax.legend()
fig.tight_layout()
ratio = (per_view[1] / per_view[3]).numpy()
print(
    f"frontal view / three-view average, per mode: median {np.median(ratio):.2f}, "
    f"lowest {ratio.min():.2f} (mode {ratio.argmin() + 1})"
)

# %% [markdown]
# ## Summary
#
# * The camera follows Eq. 3-4 with one written convention (model frame: $+x$ subject's
#   left, $+y$ down, face towards $-z$; OpenCV camera; quaternions $(w, x, y, z)$),
#   pinned by the tests.
# * The 3DMM is Procrustes alignment plus PCA, keeping the modes for 99 % of the
#   variance, with standard-normal coefficients.
# * Eq. 2 is one reprojection term summed over views, in pixels². Shape and pose errors
#   are paid in the same currency, so no weights are needed; it vanishes only when shape
#   and cameras agree with the truth in every view, and side views add the changes that
#   a frontal view sees least (`facelib.learn.loss_landscape`).
#
# Next: the data set chapter renders these faces into photographs with known cameras,
# simulates raw scans, registers the template to them and builds the 3DMM the networks
# regress.

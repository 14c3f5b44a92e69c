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
# # Single view: one photograph to shape and camera
#
# **Overview.** The paper's single-view network (section 3.1, Fig. 1): a VGG-16 encoder
# and three MLPs with one hidden layer of 256 units that regress the 3DMM coefficients
# α, the camera rotation q and its translation t, trained with nothing but the
# reprojection loss of Eq. 2 (one view, one term, no weights). Adam with learning rate
# 1e-4, batch 32, early stopping on the validation split, whole scenes mirrored at
# random.
#
# *Inputs:* `data/<profile>/` from the data set chapter. *Outputs:* `runs/<profile>/sv/`
# (weights and `model.json` with the history and metrics). *Run time:* `smoke` under a
# minute, `cpu` a few minutes on 2 CPU cores (a VGG-16 at a quarter of its width),
# `paper` on a GPU.

# %% tags=["parameters"]
profile = "smoke"  # which data set: data/<profile>/
seed = 0
width = 0.125  # VGG-16 width multiplier (1.0 is the paper's VGG-16)
batch_size = 32
lr = 0.0001  # Adam's learning rate (the paper's 1e-4)
# first epochs with α held at the 3DMM mean, so that the camera is learned first
pose_warmup_epochs = 0
sv_epochs = 2
# > 0: validate and keep a moving average of the weights (0.998: over about 500 steps);
# 0: off
sv_ema_decay = 0.0
patience = 3  # early stopping: epochs without a better validation loss
max_steps_per_epoch = 0  # 0: the whole training split every epoch
device = "cpu"
# bf16 autocast: "auto" (on CUDA only), "bf16" (also on a CPU with AVX512-BF16/AMX),
# "fp32"
precision = "auto"
# retrain; False: reuse a finished runs/<profile>/sv/ (same configuration) or resume an
# interrupted one
overwrite = True

# %%
import numpy as np
import torch

from facelib import viz
from facelib.book import repo_root
from facelib.data.dataset import load_dataset
from facelib.evaluation import report
from facelib.geometry import camera
from facelib.learn.training import TrainConfig, train
from facelib.learn.validation import (
    MeanShapeBaseline,
    identity_signal_px,
    validate,
    vertex_rms,
)
from facelib.tables import settings_table

torch.manual_seed(seed)
data = load_dataset(repo_root() / "data" / profile)
morphable_model, template = data.morphable_model, data.template
config = TrainConfig(
    network="sv",
    width=width,
    batch_size=batch_size,
    lr=lr,
    pose_warmup_epochs=pose_warmup_epochs,
    epochs=sv_epochs,
    patience=patience,
    seed=seed,
    ema_decay=sv_ema_decay,
    device=device,
    precision=precision,
    max_steps_per_epoch=max_steps_per_epoch or None,
)
print(
    f"{len(data.subjects('train'))} training and {len(data.subjects('val'))} "
    f"validation subjects, {data.photos_per_subject} photographs each, "
    f"{data.image_size} px;\n3DMM with {morphable_model.n_modes} modes"
)
settings_table(config)

# %% [markdown]
# ## 1. Training
#
# **A pose warm-up.** With the single reprojection term, the shape coefficients also pay
# for camera errors: a camera a few degrees off moves every projected point by pixels,
# while one standard deviation of a shape mode moves them by about a pixel or less at 64
# px. While the camera is still poor, α learns to absorb the camera's error instead of
# the face's shape, and the shape error grows as the reprojection error falls.
# `pose_warmup_epochs` holds α at the 3DMM mean for the first epochs (its MLP gets no
# updates; the loss is still Eq. 2, one term, no weights), so that the camera is learned
# first. The paper trained until convergence (13 hours on a GPU) without one; the
# `paper` profile uses none, the `cpu` profile, which trains for minutes, uses two.
#
# **Averaged weights.** Minutes of training end with a learning rate that is still high,
# and the weights of the last step carry the noise of the last batches: the α of one
# photograph then moves from one step to the next more than the face explains. With
# `sv_ema_decay` > 0 the run also keeps an exponential moving average of the weights
# (each step: average ← d · average + (1 − d) · weights); the average is what is
# validated, kept as the best epoch and returned. The optimiser still trains the weights
# themselves, so the loss is still Eq. 2, unchanged. The `cpu` and `paper` profiles
# average; the `smoke` profile, a few dozen steps, does not.

# %% tags=["nbval-ignore-output", "remove-stderr"]
result = train(
    config,
    data,
    repo_root() / "runs" / profile / "sv",
    overwrite=overwrite,
    reuse_finished=True,
)
print(
    f"training throughput: {result.images_per_second:.0f} images/s on {device} "
    f"({torch.get_num_threads()} threads), {len(result.history)} epochs"
)

# %%
fig = viz.history_figure({"SV": result.history})

# %% [markdown]
# ## 2. Validation against the 3DMM-mean baseline
#
# Per validation photograph: the reprojection error (mean distance between the true and
# the predicted projections of all 3DMM points), the shape error (vertex RMS against the
# true shape, in the shared model frame, and again after a similarity alignment, which
# leaves the shape alone as ARMSE does), and the camera's rotation and translation
# errors. The baseline always answers the 3DMM's mean shape.

# %%
val = data.subjects("val")
baseline = validate(
    MeanShapeBaseline(morphable_model.n_modes), data, val, network="mv_shape", n_views=1
)
sv = result.metrics
report.validation_table({"3DMM mean": baseline, "SV": sv}, baseline)

# %% [markdown]
# The floor under every network here: the true shape projected onto the 3DMM
# (`morphable_model.coefficients`), which is what a perfect coefficient regressor would
# answer. The rest of its error lies outside the 3DMM's span.

# %%
true_shapes = data.tensor("shapes", val)
fitted = morphable_model.shape(morphable_model.coefficients(true_shapes))
floor_mm = vertex_rms(fitted, true_shapes).mean().item()
removed = (baseline.shape_mm - sv.shape_mm) / (baseline.shape_mm - floor_mm)
print(
    f"true shape projected onto the 3DMM: {floor_mm:.2f} mm "
    f"({floor_mm / baseline.shape_mm:.2f} of the baseline);\n"
    f"the SV removes {100 * removed:.1f} % of the error above that floor"
)

# %% [markdown]
# **How much of Eq. 2 is about the face?** The loss compares projections in pixels, and
# only part of a photograph's reprojection error is the shape's. `identity_signal_px`
# measures that part for each validation photograph: the distance between the true
# shape's projection and the mean face's, moved onto the true shape by the best
# similarity and seen through the true camera. It is what a network with perfect
# cameras would still be told about the face. While the network's reprojection error
# is several times larger, the gradient on α is mostly the cameras' error, and α learns
# to absorb it. The table follows the run epoch by epoch. The loss ablation chapter
# tests this directly: Eq. 2 split so that α is told only about the shape
# ("Eq. 2, decoupled").

# %%
signal_px = identity_signal_px(data, val).mean().item()
report.identity_signal_table(
    result.history,
    signal_px,
    baseline,
    title=f"SV, epoch by epoch, against an identity signal of {signal_px:.2f} px",
)

# %% [markdown]
# ## 3. Predictions on validation photographs
#
# The predicted shape through the predicted camera (red) against the true shape through
# the true camera (green), at the 68 landmarks.

# %%
shown = val[:3]
V = data.photos_per_subject
images = data.tensor("images", shown, dtype=None).flatten(0, 1)  # (3 V, 3, S, S)
K = data.tensor("K", shown).flatten(0, 1).float()
with torch.no_grad():
    pred = result.model(images, K)
truth = camera.project(
    data.tensor("shapes", shown)
    .float()
    .repeat_interleave(V, 0)[:, None, template.landmarks],
    K[:, None],
    data.tensor("q", shown).flatten(0, 1).float()[:, None],
    data.tensor("t", shown).flatten(0, 1).float()[:, None],
)
guess = camera.project(
    morphable_model.shape(pred.alpha)[:, None, template.landmarks],
    K[:, None],
    pred.q,
    pred.t,
)
yaw = camera.quaternion_to_yaw_pitch_roll(pred.q[:, 0])[:, 0]
fig = viz.image_grid(
    images.numpy(),
    columns=V,
    points=truth[:, 0].numpy(),
    more_points=[(guess[:, 0].numpy(), "red")],
    titles=[f"predicted yaw {y:+.0f}°" for y in yaw.tolist()],
    size=1.8,
)

# %% [markdown]
# One validation subject in 3D: the truth (left) and the single-view reconstruction from
# its most frontal photograph (right), coloured by the vertex error in mm.

# %% tags=["nbval-ignore-output"]
subject = int(val[0])
frontal = int(
    np.argmin(
        np.abs(
            camera.quaternion_to_yaw_pitch_roll(data.tensor("q", subject))[:, 0].numpy()
        )
    )
)
with torch.no_grad():
    alpha = result.model(data.tensor("images", [subject], dtype=None)[:, frontal]).alpha
recon = morphable_model.shape(alpha)[0].double().numpy()
true_shape = data.tensor("shapes", subject).numpy()
error = np.linalg.norm(recon - true_shape, axis=1)
shift = np.array([170.0, 0.0, 0.0])
viz.mesh_figure(
    [
        viz.mesh_trace(true_shape - shift / 2, template.faces, name="truth"),
        viz.mesh_trace(
            recon + shift / 2,
            template.faces,
            intensity=error,
            colorscale="Viridis",
            colorbar_title="mm",
            name="SV",
        ),
    ],
    title=(
        f"subject {subject}: truth and SV reconstruction "
        f"(vertex RMS {np.sqrt((error**2).mean()):.2f} mm)"
    ),
    summary=f"<interactive 3D view: subject {subject}, truth and SV reconstruction>",
)

# %% [markdown]
# ## Summary
#
# * The single-view network learns shape and camera from the single reprojection term
#   alone; the table above compares its shape error with the 3DMM-mean baseline on the
#   validation subjects.
# * Its weights and `model.json` (configuration, history, metrics, the checksums of the
#   3DMM and of the data set) are in `runs/<profile>/sv/`; the multi-view chapter starts
#   from them.

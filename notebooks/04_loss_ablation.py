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
# # The loss ablation: one term against weighted terms
#
# **Overview.** The paper trains every network on one reprojection term (Eq. 2) and
# writes that it needs no weights to tune, but shows no sweep. This chapter runs one.
# The single-view network is trained again, once per loss, with everything else the
# same (network, data, steps, seed):
#
# * **Eq. 2**, the paper's single term, and the same with the next seed: the spread
#   between the two seeds is what training noise alone moves a result by; and once
#   more with the single-view chapter's pose warm-up (α held at the 3DMM mean for the
#   first epochs), the one change that shows how much of Eq. 2's shape error comes
#   from α absorbing the camera's early errors;
# * the **multi-term loss** of the baseline in the paper's reference [13] (Ramon et al.
#   2019, arXiv 1908.09001), over a grid of its two weights:
#
#   L = mean_k (α̂_k − α_k)² + β · e_q(q̂, q) + γ · mean_i (t̂_i − t_i)²,
#
#   with α the truth's 3DMM coefficients (its projection on the model), e_q = 2 − 2
#   |⟨q̂, q⟩| the quaternion error and t in mm. β and γ each span two orders of
#   magnitude around the values that balance the three terms;
# * **Eq. 2 + virtual views**, [13]'s implicit regulariser: the predicted and the true
#   shape are also compared through a random *virtual* camera per photograph (yaw
#   within ±90°, pitch within ±45°, at the true camera's distance), a view no photograph
#   shows. It is a reprojection error too (px²), so it adds no weight;
# * **Eq. 2, decoupled**, ours: Eq. 2 split in two reprojection terms, the predicted
#   shape seen through the *true* camera and the true shape seen through the
#   *predicted* camera, each against the truth (`decoupled_reprojection_loss`). Same
#   unit, no weight, the same minimum; but α is told only about the shape. The
#   single-view chapter measures that a face's identity moves its projection far less
#   than the camera's error does: this cell asks whether Eq. 2 fails on shape because
#   the camera's error reaches α.
#
# Every network is kept at its best epoch by its own validation loss, and all are
# compared on what every loss can be judged by: the shape error after a similarity
# alignment (mm, as ARMSE sees it) and the reprojection error (px).
#
# *A smaller budget than the single-view chapter*, so that the fourteen networks fit
# in a few minutes on the `cpu` profile: `ablation_epochs` ×
# `ablation_steps_per_epoch` steps per network (the single-view chapter: 10 × 328),
# validation on the first `ablation_val_subjects` validation subjects, weights
# averaged over about 50 steps, and no pose warm-up for any loss but the one Eq. 2 run
# named for it (the paper's recipe). Same width, batch and learning rate as there.
#
# *Inputs:* `data/<profile>/` from the data set chapter. *Outputs:*
# `runs/<profile>/ablation/<loss>/`, one training run per network. *Run time:* `smoke`
# under a minute, `cpu` about 8 minutes on 2 CPU cores (14 networks).

# %% tags=["parameters"]
profile = "smoke"  # which data set: data/<profile>/
seed = 0
width = 0.125  # VGG-16 width multiplier (1.0 is the paper's VGG-16)
batch_size = 32
lr = 0.0001  # Adam's learning rate (the paper's 1e-4)
ablation_epochs = 1
ablation_steps_per_epoch = 2  # 0: the whole training split every epoch
ablation_val_subjects = 0  # validate on the first this many subjects; 0: all
# > 0: train Eq. 2 once more with α held at the 3DMM mean for this many first epochs
ablation_warmup_epochs = 1
# > 0: validate and keep a moving average of the weights; 0: off
ablation_ema_decay = 0.0
beta_lowest = 1.0  # the rotation weights: beta_lowest .. beta_lowest * 10**grid_decades
gamma_lowest = 0.0001  # the translation weights (per mm²), likewise
grid_decades = 2
grid_size = 3  # weights per axis: a grid_size x grid_size grid
device = "cpu"
# bf16 autocast: "auto" (on CUDA only), "bf16" (also on a CPU with AVX512-BF16/AMX),
# "fp32"
precision = "auto"
# retrain; False: reuse finished runs/<profile>/ablation/ runs (same configuration)
overwrite = True

# %%
import torch

from facelib import viz
from facelib.book import repo_root
from facelib.data.dataset import load_dataset
from facelib.evaluation.report import ablation_table, ablation_verdict
from facelib.learn.ablation import run_ablation, weight_grid
from facelib.learn.training import TrainConfig, validation_subjects
from facelib.learn.validation import MeanShapeBaseline, validate
from facelib.tables import settings_table

torch.manual_seed(seed)
data = load_dataset(repo_root() / "data" / profile)
base = TrainConfig(
    network="sv",
    width=width,
    batch_size=batch_size,
    lr=lr,
    epochs=ablation_epochs,
    patience=ablation_epochs,  # no early stop: every loss gets the same steps
    seed=seed,
    ema_decay=ablation_ema_decay,
    device=device,
    precision=precision,
    max_steps_per_epoch=ablation_steps_per_epoch or None,
    val_subjects=ablation_val_subjects,
)
betas = weight_grid(beta_lowest, grid_decades, grid_size)
gammas = weight_grid(gamma_lowest, grid_decades, grid_size)
print(f"β: {betas}\nγ (per mm²): {gammas}")
settings_table(base)

# %% [markdown]
# ## 1. Training every loss
#
# Two runs of Eq. 2 (two seeds), one with the pose warm-up, one of Eq. 2 + virtual
# views, one of Eq. 2 decoupled, and one per (β, γ).

# %% tags=["nbval-ignore-output", "remove-stderr"]
ablation = run_ablation(
    base,
    data,
    repo_root() / "runs" / profile / "ablation",
    betas=betas,
    gammas=gammas,
    warmup_epochs=ablation_warmup_epochs,
    overwrite=overwrite,
)
print(f"{len(ablation.cells())} networks trained")

# %% [markdown]
# ## 2. The grid
#
# Each cell is one network trained on the multi-term loss with that (β, γ), labelled
# with its validation error and coloured by its change against Eq. 2: green where it
# is lower, red where higher. On each colour bar the solid line is Eq. 2 (0 %), the
# dashed one Eq. 2 + virtual views, the dotted one Eq. 2 with the pose warm-up, the
# dash-dotted one Eq. 2 decoupled.
#
# *Why the weights may matter less than they seem to:* each of the three terms reaches
# its own head alone (α's MLP sees only the coefficient error, q's only β · e_q, t's
# only γ · |t̂ − t|²), and Adam divides every parameter's step by the running size of
# its own gradient, so a constant weight on a term leaves its head's steps unchanged.
# β and γ act only through the shared encoder, where the three gradients add up.

# %%
fig = viz.ablation_heatmaps(ablation)

# %% [markdown]
# Every network, with the 3DMM's mean shape (no network at all) on the same validation
# subjects for scale: the aligned shape error, the reprojection, the camera's rotation
# and translation errors, and (Δ) the shape and reprojection errors relative to Eq. 2
# (first seed); below zero is better.

# %%
baseline = validate(
    MeanShapeBaseline(data.morphable_model.n_modes),
    data,
    validation_subjects(data, base),
    network="mv_shape",
    n_views=1,
)
ablation_table(ablation, baseline)

# %% [markdown]
# How the shape and the reprojection errors move during training, per epoch, for Eq. 2
# (with and without the warm-up), Eq. 2 + virtual views, Eq. 2 decoupled and the
# grid's best cell on shape.

# %%
best = ablation.best("shape_aligned_mm")
shown = [
    ablation.single,
    ablation.single_warmup,
    ablation.virtual,
    ablation.decoupled,
    best,
]
fig = viz.history_figure(
    {c.label: c.history for c in shown if c is not None},
    keys=("shape_aligned_mm", "reprojection_px"),
    labels=("aligned shape error (mm)", "reprojection error (px)"),
)

# %% [markdown]
# ## 3. What the sweep says
#
# The verdict is computed from the table above: a cell *beats* Eq. 2 when its error is
# lower; a difference smaller than what a change of seed moves Eq. 2 by is within the
# noise of training.

# %%
print("\n".join(ablation_verdict(ablation)))

# %% [markdown]
# ## Summary
#
# * The multi-term loss has two weights, and the grid shows how much its result depends
#   on them; the single term has none. The table and the verdict above say, for this
#   profile's budget, whether any weighting beats the single term on the shape and on
#   the reprojection, and by more than a change of seed.
# * Eq. 2 + virtual views keeps the single term's freedom from weights; its row shows
#   what [13]'s regulariser adds. The warm-up row shows how much of Eq. 2's shape
#   error at this budget is α absorbing the camera's early errors, and the decoupled
#   row what is left of it when the camera's error cannot reach α at all.
# * The runs are in `runs/<profile>/ablation/`; the evaluation chapter that follows
#   scores the networks of the single-view and multi-view chapters, not these.

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
# # Multi-view: siamese networks, MV Add, MV Concat and MV Shape-Concat
#
# **Overview.** The paper's multi-view network (section 3.2, Fig. 2) uses the trained
# single-view network as a siamese branch on N = 3 photographs (shared weights, one
# camera per photograph), merges the three per-view shape estimates by **addition** (MV
# Add) or **concatenation** (MV Concat) and regresses one shape with an MLP. The loss is
# the same single term, Eq. 2, now summed over the three views, so the shape must
# explain all of them at once. MV Shape-Concat (section 4.3) drops the pose regressors,
# average-pools the encoder's output and learns the 3D shape directly (mean squared
# vertex error), starting from MV Concat.
#
# **Beyond the paper: MV Any.** The same siamese branch on *any* number of photographs
# in *any* order: each view gets a learned weight (a softmax over the views of a score
# read from its features), the scene's coefficients are the weighted mean of the views'
# plus a correction read from their weighted features
# (`facelib.learn.nets.AnyView`). It starts as SV Mean exactly and trains with the
# same single term, Eq. 2, each batch with its own number of views N from 1 to the
# data set's photographs per subject, in random order. The evaluation chapter scores
# it from 1 to all 30 frames of a capture.
#
# *Inputs:* `data/<profile>/`, and `runs/<profile>/sv/` from the single-view chapter.
# *Outputs:* `runs/<profile>/mv_add/`, `mv_concat/`, `mv_shape_concat/`, `mv_any/`.
# *Run time:*
# `smoke` under a minute, `cpu` several minutes on 2 CPU cores, `paper` on a GPU.

# %% tags=["parameters"]
profile = "smoke"
seed = 0
batch_size = 32
lr = 0.0001  # Adam's learning rate (the paper's 1e-4)
n_views = 3  # N, the photographs per scene (the paper: a frontal and two lateral views)
mv_epochs = 2
shape_epochs = 2
# > 0: validate and keep a moving average of the weights, as in the single-view chapter;
# 0: off
mv_ema_decay = 0.0
patience = 3
max_steps_per_epoch = 0  # 0: the whole training split every epoch
device = "cpu"
# bf16 autocast: "auto" (on CUDA only), "bf16" (also on a CPU with AVX512-BF16/AMX),
# "fp32"
precision = "auto"
# retrain; False: reuse finished runs (same configuration) or resume interrupted ones
overwrite = True

# %%
import numpy as np
import torch

from facelib import viz
from facelib.book import repo_root
from facelib.data.dataset import load_dataset
from facelib.evaluation.captures import BEYOND_RUN_FOLDERS, RUN_FOLDERS
from facelib.evaluation.report import validation_table
from facelib.geometry import camera
from facelib.learn.checkpoints import load_model
from facelib.learn.nets import ViewAverage
from facelib.learn.throughput import MODELS, training_throughput
from facelib.learn.training import TrainConfig, train
from facelib.learn.validation import MeanShapeBaseline, validate
from facelib.learn.views import select_views

data = load_dataset(repo_root() / "data" / profile)
morphable_model, template = data.morphable_model, data.template
runs = repo_root() / "runs" / profile
sv_model, sv_meta = load_model(
    runs / RUN_FOLDERS["SV"],
    morphable_model=morphable_model,
    image_size=data.image_size,
)
common = dict(
    n_views=n_views,
    batch_size=batch_size,
    lr=lr,
    patience=patience,
    seed=seed,
    device=device,
    precision=precision,
    ema_decay=mv_ema_decay,
    max_steps_per_epoch=max_steps_per_epoch or None,
    width=sv_meta["architecture"]["width"],
)
print(
    "starting from the single-view network in "
    f"{(runs / 'sv').relative_to(repo_root())} (VGG-16 width {common['width']})"
)

# %% [markdown]
# ## 1. Training the paper's three models and MV Any

# %% tags=["nbval-ignore-output", "remove-stderr"]
reuse = dict(overwrite=overwrite, reuse_finished=True)
configs = {
    "MV Add": (
        TrainConfig(network="mv", merge="add", epochs=mv_epochs, **common),
        "SV",
    ),
    "MV Concat": (
        TrainConfig(network="mv", merge="concat", epochs=mv_epochs, **common),
        "SV",
    ),
    "MV Shape-Concat": (
        TrainConfig(network="mv_shape", merge="concat", epochs=shape_epochs, **common),
        "MV Concat",
    ),
    "MV Any": (TrainConfig(network="mv_any", epochs=mv_epochs, **common), "SV"),
}
folders = {**RUN_FOLDERS, **BEYOND_RUN_FOLDERS}
results = {}
for name, (config, start) in configs.items():
    init = runs / folders[start]
    results[name] = train(config, data, runs / folders[name], init=init, **reuse)
    print(
        f"{name}: {results[name].images_per_second:.0f} training images/s on {device}, "
        f"{len(results[name].history)} epochs"
    )

# %%
histories = {name: r.history for name, r in results.items()}
histories.pop("MV Shape-Concat")
fig = viz.history_figure(histories)

# %% [markdown]
# **Throughput at the paper's size.** The figures above are this run's, on its device
# and image size. On a machine with a GPU, the cell below also measures the four
# networks at the paper's size (224 px, the full VGG-16, batch 32, N = 3, bf16 autocast)
# on synthetic batches with `benchmarks.training_throughput`.

# %% tags=["nbval-ignore-output"]
if torch.cuda.is_available():
    for name, _, _ in MODELS:
        r = training_throughput(
            name,
            morphable_model,
            image_size=224,
            width=1.0,
            n_views=3,
            batch_size=32,
            device="cuda",
        )
        print(
            f"{name}: {r.images_per_second:.0f} images/s on "
            f"{torch.cuda.get_device_name()} ({r.step_ms:.1f} ms a step)"
        )
else:
    print(
        "no CUDA device in this run: on a GPU machine,\n"
        "python -m benchmarks.training_throughput --device cuda\n"
        "measures the paper's size"
    )

# %% [markdown]
# ## 2. Validation
#
# Every model sees the same validation scenes: for each validation subject, the N
# photographs whose true yaw is nearest -45°, 0° and 45°. "SV" is the single-view
# network on each of those photographs on its own (shape error averaged over the
# photographs); "SV Mean" averages its coefficients over them.

# %%
val = data.subjects("val")
rows = {
    "3DMM mean": validate(
        MeanShapeBaseline(morphable_model.n_modes),
        data,
        val,
        network="mv_shape",
        n_views=n_views,
    ),
    "SV": validate(sv_model, data, val, network="sv", n_views=1),
    "SV Mean": validate(
        ViewAverage(sv_model), data, val, network="mv", n_views=n_views
    ),
    **{name: r.metrics for name, r in results.items()},
}
validation_table(rows, rows["3DMM mean"])

# %% [markdown]
# ## 3. MV Concat on validation scenes
#
# Red: the predicted shape through the predicted cameras; green: the truth, at the 68
# landmarks.

# %%
concat = results["MV Concat"].model
shown = val[:2]
yaw_true = camera.quaternion_to_yaw_pitch_roll(data.tensor("q", shown))[..., 0].numpy()
picks = np.stack([select_views(y, n_views) for y in yaw_true])
# (2, N, 3, S, S)
images = torch.stack(
    [data.tensor("images", (int(s), p), dtype=None) for s, p in zip(shown, picks)]
)
K, q, t = (
    torch.stack([data.tensor(name, (int(s), p)) for s, p in zip(shown, picks)]).float()
    for name in ("K", "q", "t")
)
with torch.no_grad():
    pred = concat(images, K)
truth = camera.project(
    data.tensor("shapes", shown).float()[:, None, template.landmarks], K, q, t
)
guess = camera.project(
    morphable_model.shape(pred.alpha)[:, None, template.landmarks], K, pred.q, pred.t
)
fig = viz.image_grid(
    images.flatten(0, 1).numpy(),
    columns=n_views,
    points=truth.flatten(0, 1).numpy(),
    more_points=[(guess.flatten(0, 1).numpy(), "red")],
    size=2.0,
    titles=[
        f"subject {s}, true yaw {y:+.0f}°"
        for s, p, ys in zip(shown, picks, yaw_true)
        for y in ys[p]
    ],
)

# %% [markdown]
# The first validation subject in 3D: the truth, the single-view reconstruction from the
# frontal photograph and the MV Concat reconstruction from the three, coloured by the
# vertex error (mm).

# %% tags=["nbval-ignore-output"]
subject = int(shown[0])
true_shape = data.tensor("shapes", subject).numpy()
with torch.no_grad():
    sv_alpha = sv_model(images[:1, n_views // 2]).alpha
meshes = {
    "truth": true_shape,
    "SV": morphable_model.shape(sv_alpha)[0].double().numpy(),
    "MV Concat": morphable_model.shape(pred.alpha[:1])[0].double().numpy(),
}
traces = []
for k, (name, verts) in enumerate(meshes.items()):
    offset = np.array([(k - 1) * 170.0, 0.0, 0.0])
    error = np.linalg.norm(verts - true_shape, axis=1)
    traces.append(
        viz.mesh_trace(
            verts + offset,
            template.faces,
            name=name,
            intensity=None if name == "truth" else error,
            colorscale="Viridis",
            colorbar_title="mm",
            showscale=k == 2,
        )
    )
viz.mesh_figure(
    traces,
    title=(
        f"subject {subject}: truth, SV (frontal photograph), "
        "MV Concat (three photographs)"
    ),
    summary=f"<interactive 3D view: subject {subject}, truth, SV and MV Concat>",
)

# %% [markdown]
# ## Summary
#
# * The siamese networks start from the single-view weights and train with the same
#   single term summed over N views; MV Shape-Concat fine-tunes MV Concat on the 3D
#   shape alone; MV Any (ours) trains on any number of views in any order.
# * The table above compares their validation errors with the single-view network and
#   the 3DMM-mean baseline; the evaluation chapter repeats the comparison with the
#   3DFAW-2019 protocol on the test captures.

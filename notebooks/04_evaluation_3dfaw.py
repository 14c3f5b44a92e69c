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
# # Evaluation with the 3DFAW-2019 protocol: the paper's Table 1
#
# **Overview.** Section 4.3 of the paper scores every model on 3DFAW-2019's videos with the challenge's
# ARMSE: the prediction is aligned to the ground-truth scan by its landmarks, cropped to 95 mm around
# the nose tip, refined by ICP with scale, and the point-to-surface distances are measured both ways
# (every 4th vertex); ARMSE is the mean of the two RMSEs, in mm. The multi-view networks get the three
# frames whose yaw, as the single-view network estimates it, is nearest -45°, 0° and 45°.
#
# Here the test captures are the data set's 3DFAW-like videos of test subjects (a hand-held camera
# orbiting the head, and a static camera with the head turning), scored against each subject's raw
# scan and its landmarks. The table ends the book the way the paper does: our seven rows beside the
# paper's, computed in this run.
#
# *Inputs:* `data/<profile>/` and the four trained networks in `runs/<profile>/`. *Outputs:*
# `runs/<profile>/table1.json` and `table1.csv`. *Run time:* `smoke` seconds, `cpu` a few minutes.

# %% tags=["parameters"]
profile = "smoke"
seed = 0  # seeds the bootstrap
curve_subjects = 4  # test subjects used for the ARMSE-versus-frames curve (it scores many predictions)
device = "cpu"  # where the networks run ("cuda" on a GPU)
workers = 2  # processes that score the predictions (ARMSE runs on the CPU)

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm import tqdm

from facelib import viz
from facelib.book import repo_root
from facelib.data.dataset import CAPTURE_MOTIONS, load_dataset
from facelib.evaluation.table1 import PAPER_TABLE1, ROWS, predict_rows, score_captures, summarise, write_tables
from facelib.learn.training import load_model

data = load_dataset(repo_root() / "data" / profile)
model3dmm, template = data.morphable_model, data.template
runs = repo_root() / "runs" / profile
size = int(data.images.shape[-1])
networks = {name: load_model(runs / folder, model3dmm=model3dmm, image_size=size, device=device)[0]
            for name, folder in [("SV", "sv"), ("MV Add", "mv_add"), ("MV Concat", "mv_concat"), ("MV Shape-Concat", "mv_shape_concat")]}
subjects = np.asarray(data.capture_subjects)
print(f"{len(subjects)} test subjects x {len(CAPTURE_MOTIONS)} captures x {data.capture_images.shape[2]} frames of {size} px")

# %% [markdown]
# ## 1. Every row on every capture

# %% tags=["nbval-ignore-output", "remove-stderr"]
scores = {kind: {row: [] for row in ROWS} for kind in CAPTURE_MOTIONS}
vertex_sum = {row: np.zeros(template.n_points) for row in ROWS}
vertex_count = {row: np.zeros(template.n_points) for row in ROWS}
selections, predictions, scans = {}, {}, {}
for m, subject in enumerate(tqdm(subjects, desc="predicting", mininterval=5.0)):
    scans[int(subject)] = data.scan(int(subject))
    for k, kind in enumerate(CAPTURE_MOTIONS):
        frames = data.tensor("capture_images", (m, k), dtype=None)
        predictions[(int(subject), kind)], selections[(int(subject), kind)] = predict_rows(frames, model3dmm, networks)
keys = list(predictions)  # (subject, kind), subjects in order
scored = score_captures([predictions[key] for key in keys], template.faces, template.landmarks,
                        [scans[subject] for subject, _ in keys], workers=workers)
examples = {}
for (subject, kind), results in zip(keys, scored):
    for row, r in results.items():
        scores[kind][row].append(r.armse_mm)
        vertex_sum[row][r.pred_vertex_ids] += r.pred_distances
        vertex_count[row][r.pred_vertex_ids] += 1
    examples[(subject, kind)] = (predictions[(subject, kind)], results)
print(f"scored {len(keys)} captures x {len(ROWS)} rows in {workers} processes")

# %% [markdown]
# ## 2. Table 1
#
# Mean ± standard deviation over subjects, the 95 % bootstrap interval of the mean, and the relative
# improvement over 3DMM Mean, beside the paper's numbers (3DFAW-2019, real videos and scans; ours:
# the synthetic test captures).

# %%
tables = {kind: summarise({row: np.array(scores[kind][row]) for row in ROWS}) for kind in CAPTURE_MOTIONS}
tables["both"] = summarise({row: np.concatenate([scores[kind][row] for kind in CAPTURE_MOTIONS]) for row in ROWS})
for kind, table in tables.items():
    print(f"\n{kind} ({len(scores[CAPTURE_MOTIONS[0]]['SV Mean']) * (2 if kind == 'both' else 1)} captures)")
    print(f"{'model':<22}{'ARMSE (mm)':>16}{'95 % interval':>16}{'vs mean':>9}{'paper':>8}{'vs mean':>9}")
    for r in table:
        print(f"{r.row:<22}{r.mean:>8.2f} ± {r.std:<5.2f}{r.ci_low:>8.2f}-{r.ci_high:<6.2f}{-100 * r.improvement:>+8.0f}%"
              f"{r.paper:>8.2f}{-100 * r.paper_improvement:>+8.0f}%")

# %%
json_path, csv_path = write_tables(tables, runs)
print(f"wrote {json_path.relative_to(repo_root())} and {csv_path.name}")

# %% [markdown]
# **Is the paper's order reproduced?** The paper's rows fall in the order 3DMM Mean > SV Frontal > SV
# Mean > MV Add > MV Concat > MV Shape-Concat ≥ MV Shape-Concat Mean. The check below reads our numbers
# (both capture kinds together) pair by pair.

# %%
both = {r.row: r for r in tables["both"]}
for a, b in zip(ROWS[:-1], ROWS[1:]):
    ok = both[a].mean > both[b].mean or (b == "MV Shape-Concat Mean" and both[a].mean >= both[b].mean)
    overlap = both[a].ci_low <= both[b].ci_high and both[b].ci_low <= both[a].ci_high
    print(f"{a} ({both[a].mean:.2f}) {'>' if ok else '<='} {b} ({both[b].mean:.2f}): "
          f"{'as in the paper' if ok else 'NOT as in the paper'}{' (intervals overlap)' if overlap else ''}")
print(f"MV Concat is {100 * both['MV Concat'].improvement:.0f} % below 3DMM Mean (the paper: "
      f"{100 * both['MV Concat'].paper_improvement:.0f} %; the target here: at least 25 %)")

# %% [markdown]
# **Why the reprojection-trained rows gain little here.** The single-view and multi-view networks learn
# shape only through Eq. 2, where a camera error of a few degrees costs more pixels than the whole shape
# variation of a face at our image size; until the camera is accurate, the shape coefficients absorb
# camera errors. MV Shape-Concat is trained on the 3D shape itself and does not depend on the camera. The
# validation metrics of the training chapters, read back from the checkpoints, put each network's camera
# error beside its shape error (after similarity alignment, relative to the 3DMM-mean baseline) and its
# Table 1 gain.

# %%
from facelib.learn.training import MeanShapeBaseline, evaluate

val_baseline = evaluate(MeanShapeBaseline(model3dmm.n_modes), data, data.subjects("val"), kind="mv_shape", views=1)
print(f"{'network':<18}{'camera rotation error':>23}{'shape error / baseline':>24}{'Table 1 vs 3DMM Mean':>22}")
for name, folder in [("SV", "sv"), ("MV Add", "mv_add"), ("MV Concat", "mv_concat"), ("MV Shape-Concat", "mv_shape_concat")]:
    m = json.loads((runs / folder / "model.json").read_text())["metrics"]
    rotation = "-" if m["rotation_deg"] is None or np.isnan(m["rotation_deg"]) else f"{m['rotation_deg']:.1f}°"
    row = "SV Frontal" if name == "SV" else name
    print(f"{name:<18}{rotation:>23}{m['shape_aligned_mm'] / val_baseline.shape_aligned_mm:>24.2f}{-100 * both[row].improvement:>+21.0f}%")

# %% [markdown]
# **How far could the 3DMM go?** A network that regressed every coefficient perfectly would predict the
# test subject's true shape projected onto the 3DMM (`model3dmm.coefficients`). Scored by the same
# protocol, that bound says how much of the 3DMM Mean's error any row of Table 1 could remove here.

# %%
true_fit = model3dmm.shape(model3dmm.coefficients(data.tensor("shapes", subjects))).numpy()
bound = score_captures([{"3DMM fit": s} for s in true_fit], template.faces, template.landmarks,
                       [scans[int(s)] for s in subjects], workers=workers)
bound_mm = np.array([r["3DMM fit"].armse_mm for r in bound])
reachable = 1 - bound_mm.mean() / both["3DMM Mean"].mean  # the share of 3DMM Mean's error a perfect regressor removes
print(f"true shape projected onto the 3DMM: ARMSE {bound_mm.mean():.2f} ± {bound_mm.std():.2f} mm, "
      f"{100 * reachable:.0f} % below 3DMM Mean; MV Concat closes {100 * both['MV Concat'].improvement / reachable:.0f} % of that gap")

# %% [markdown]
# ## 3. Where the errors are
#
# The mean distance from each vertex of the prediction to the scan, over all captures, per model (only
# vertices inside the 95 mm crop count), on the 3DMM's mean face. Dark is 0 mm, yellow 3 mm or more.

# %%
mean_error = {row: np.where(vertex_count[row] > 0, vertex_sum[row] / np.maximum(vertex_count[row], 1), 0.0) for row in ROWS}
panels = np.concatenate([viz.preview_images(model3dmm.mean, template.faces, albedo=viz.error_colours(mean_error[row], 3.0)[None],
                                            yaw_deg=25.0, image_size=180) for row in ROWS])
fig = viz.image_grid(panels, columns=4, titles=[f"{row}: {both[row].mean:.2f} mm" for row in ROWS], size=2.2)

# %% [markdown]
# The best and the worst test subjects for MV Concat (both captures averaged):

# %%
per_subject = np.mean([scores[kind]["MV Concat"] for kind in CAPTURE_MOTIONS], axis=0)
order = np.argsort(per_subject)
for label, idx in (("best", order[0]), ("worst", order[-1])):
    s = int(subjects[idx])
    row_values = ", ".join(f"{row} {np.mean([scores[k][row][idx] for k in CAPTURE_MOTIONS]):.2f}" for row in ROWS)
    print(f"{label}: subject {s}: {row_values} mm")

# %% [markdown]
# ## 4. More frames for the single-view network
#
# SV Mean averages the single-view coefficients over the frames of a capture. How does ARMSE change with
# the number of frames averaged (frames spread evenly over the video)?

# %% tags=["nbval-ignore-output"]
counts = [1, 2, 4, 8, 16, data.capture_images.shape[2]]
curve_keys = [(int(subject), kind) for subject in subjects[:curve_subjects] for kind in CAPTURE_MOTIONS]
curve_shapes = []
for key in curve_keys:
    alpha_frames = selections[key]["alpha_frames"]
    picks = {n: np.linspace(0, len(alpha_frames) - 1, n).round().astype(int) for n in counts}
    curve_shapes.append({n: model3dmm.shape(alpha_frames[pick].mean(0).double()).numpy() for n, pick in picks.items()})
curve_scores = score_captures(curve_shapes, template.faces, template.landmarks, [scans[s] for s, _ in curve_keys], workers=workers)
curve = {n: [r[n].armse_mm for r in curve_scores] for n in counts}
fig, ax = plt.subplots(figsize=(5, 3))
ax.errorbar(counts, [np.mean(curve[n]) for n in counts], yerr=[np.std(curve[n]) / np.sqrt(len(curve[n])) for n in counts], marker="o")
ax.set(xscale="log", xlabel="frames averaged", ylabel="ARMSE (mm)", title=f"SV Mean, {min(curve_subjects, len(subjects))} subjects")
fig.tight_layout()
print({n: round(float(np.mean(curve[n])), 3) for n in counts})

# %% [markdown]
# ## 5. A reconstruction against its scan
#
# The MV Shape-Concat Mean reconstruction of the first test subject (orbit capture), aligned by the
# protocol and coloured by its distance to the scan (mm), over the scan (grey) cropped as scored.

# %% tags=["nbval-ignore-output"]
subject = int(subjects[0])
shapes, results = examples[(subject, CAPTURE_MOTIONS[0])]
r = results["MV Shape-Concat Mean"]
aligned = r.transform.apply(shapes["MV Shape-Concat Mean"])
scan = scans[subject]
near = np.linalg.norm(scan.vertices - scan.landmarks[30], axis=1) <= 95.0
scan_faces = scan.faces[near[scan.faces].all(axis=1)]
distance = np.zeros(template.n_points)
distance[r.pred_vertex_ids] = r.pred_distances
viz.mesh_figure(
    [viz.mesh_trace(scan.vertices, scan_faces, name="scan", opacity=0.45, color="lightgrey"),
     viz.mesh_trace(aligned, template.faces, intensity=distance, colorscale="Viridis", colorbar_title="mm", name="reconstruction")],
    title=f"subject {subject}: ARMSE {r.armse_mm:.2f} mm",
    summary=f"<interactive 3D view: subject {subject}, reconstruction against its scan>",
)

# %% [markdown]
# ## Summary
#
# * The seven rows of the paper's Table 1 are computed above on this run's test captures, with the
#   3DFAW-2019 protocol, and written to `runs/<profile>/table1.json` and `table1.csv`.
# * The pairwise check says, from the numbers, where our order matches the paper's and where not.
# * To score your own reconstruction against your own scan: `facelib.evaluation.metrics.armse_from_files(pred.obj,
#   pred_landmarks.txt, scan.obj, scan_landmarks.txt)`.

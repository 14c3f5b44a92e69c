"""Which photographs a multi-view network sees: the views nearest target yaws.

One rule, shared by training, validation and the evaluation of Table 1 (paper, 4.3):
for each target yaw, the views (photographs, or the frames of a capture) whose yaw is
nearest to it. The paper's targets are -45°, 0° and 45° (:data:`PAPER_TARGET_YAWS`);
for N views the targets spread evenly over -45°..45° (:func:`target_yaws`).

* :func:`ranked_views`: for each target, the ``depth`` views nearest to it, nearest
  first; row k of the result is the k-th set of views (Table 1's "MV Shape-Concat
  Mean" averages five of them).
* :func:`select_views`: the first such set for N targets, sorted by yaw (left to
  right), so that the slots of a concatenating network mean the same thing in training
  and in evaluation.

A view fills at most one slot of a set. Ties (two views exactly as near a target) are
broken by view order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["PAPER_TARGET_YAWS", "target_yaws", "ranked_views", "select_views"]

#: the paper's target yaws in degrees (section 4.3)
PAPER_TARGET_YAWS = (-45.0, 0.0, 45.0)


def target_yaws(n_views: int) -> np.ndarray:
    """N target yaws (N,) in degrees, evenly spread over -45°..45° (0° for N = 1)."""
    if n_views < 1:
        raise ValueError(f"expected at least one view, got n_views={n_views}")
    return np.linspace(-45.0, 45.0, n_views) if n_views > 1 else np.zeros(1)


def ranked_views(
    yaw_deg: np.ndarray, targets: Sequence[float], depth: int
) -> np.ndarray:
    """For each target yaw, the ``depth`` views nearest to it, nearest first.

    Args:
        yaw_deg: yaw of every view (V,), degrees.
        targets: the target yaws (T,), degrees.
        depth: how many sets of views to rank; at most V // T are returned.

    Returns:
        view ids (depth, T), int64: row k holds, for each target, its k-th nearest
        view. Where that would put one view in two slots of row k, the row is filled
        again target by target: each takes the nearest view not yet in this row and
        not in an earlier row of its own column.
    """
    yaw = np.asarray(yaw_deg, dtype=np.float64)
    if yaw.ndim != 1:
        raise ValueError(f"expected one yaw per view (V,), got shape {yaw.shape}")
    n_targets = len(targets)
    depth = min(depth, len(yaw) // n_targets)
    # every target's views, nearest first; ties by view order
    order = [np.argsort(np.abs(yaw - target), kind="stable") for target in targets]
    out = np.empty((depth, n_targets), dtype=np.int64)
    for j in range(n_targets):
        out[:, j] = order[j][:depth]
    for k in range(depth):
        if len(set(out[k].tolist())) == n_targets:
            continue
        used: set[int] = set()
        for j in range(n_targets):
            earlier = set(out[:k, j].tolist())
            out[k, j] = next(
                int(i) for i in order[j] if int(i) not in used and int(i) not in earlier
            )
            used.add(int(out[k, j]))
    return out


def select_views(yaw_deg: np.ndarray, n_views: int) -> np.ndarray:
    """The N views nearest the N target yaws of :func:`target_yaws`, sorted by yaw.

    Args:
        yaw_deg: yaw of every view (V,), degrees, V >= N.
        n_views: N.

    Returns:
        view ids (N,), int64, distinct, in increasing yaw.
    """
    yaw = np.asarray(yaw_deg, dtype=np.float64)
    if len(yaw) < n_views:
        raise ValueError(
            f"cannot select {n_views} distinct views from {len(yaw)}; ask for at most "
            f"{len(yaw)} views"
        )
    chosen = ranked_views(yaw, target_yaws(n_views), depth=1)[0]
    return chosen[np.argsort(yaw[chosen], kind="stable")]

"""facelib.learn.views: the views nearest target yaws, against a slow reference and hand
cases."""

import numpy as np
import pytest

from facelib.learn.views import (
    PAPER_TARGET_YAWS,
    ranked_views,
    select_views,
    target_yaws,
)


def reference_ranked(yaw, targets, depth):
    """The rule of ranked_views in plain Python: row k takes each target's k-th nearest
    view; if that repeats a view within the row, the row is filled target by target
    with the nearest view neither in this row yet nor in an earlier row of the same
    column."""
    yaw = [float(y) for y in yaw]
    depth = min(depth, len(yaw) // len(targets))
    nearest = [
        sorted(range(len(yaw)), key=lambda i: (abs(yaw[i] - target), i))
        for target in targets
    ]
    rows = []
    for k in range(depth):
        row = [nearest[j][k] for j in range(len(targets))]
        if len(set(row)) < len(row):
            row = []
            for j in range(len(targets)):
                earlier = [rows[r][j] for r in range(k)]
                row.append(
                    [i for i in nearest[j] if i not in row and i not in earlier][0]
                )
        rows.append(row)
    return rows


def reference_select(yaw, n):
    """N targets over -45..45 (0 for one), each taking its nearest view not taken yet;
    then sorted by yaw."""
    yaw = [float(y) for y in yaw]
    targets = [0.0] if n == 1 else [-45.0 + 90.0 * j / (n - 1) for j in range(n)]
    chosen = []
    for target in targets:
        free = [i for i in range(len(yaw)) if i not in chosen]
        chosen.append(min(free, key=lambda i: abs(yaw[i] - target)))
    return sorted(chosen, key=lambda i: yaw[i])


def random_yaws(rng, V):
    """V yaws without exact ties, clustered or spread (clusters make several targets
    share their nearest view)."""
    return rng.normal(rng.uniform(-40, 40), rng.choice([3.0, 20.0, 90.0]), V)


def test_select_views_matches_the_reference():
    rng = np.random.default_rng(0)
    for _ in range(500):
        yaw = random_yaws(rng, int(rng.integers(1, 30)))
        for n in range(1, min(len(yaw), 6) + 1):
            got = select_views(yaw, n)
            assert got.dtype == np.int64
            assert got.tolist() == reference_select(yaw, n), (yaw.tolist(), n)


def test_ranked_views_match_the_reference():
    rng = np.random.default_rng(1)
    repeated = 0
    for _ in range(500):
        yaw = random_yaws(rng, int(rng.integers(1, 40)))
        for targets in (PAPER_TARGET_YAWS, tuple(target_yaws(int(rng.integers(1, 5))))):
            depth = int(rng.integers(1, 8))
            got = ranked_views(yaw, targets, depth)
            want = reference_ranked(yaw, targets, depth)
            assert got.shape == (len(want), len(targets)) and got.dtype == np.int64
            assert got.tolist() == want, (yaw.tolist(), targets, depth)
            nearest = {int(np.argmin(np.abs(yaw - t))) for t in targets}
            repeated += len(nearest) < len(targets)
    assert repeated > 50  # the refilling of rows was exercised


def test_select_views_by_hand():
    yaw = np.array([80.0, -50.0, 5.0, 40.0, -10.0])
    # nearest -45: -50 (view 1); nearest 0: 5 (view 2); nearest 45: 40 (view 3)
    assert select_views(yaw, 3).tolist() == [1, 2, 3]
    assert select_views(yaw, 1).tolist() == [2]
    # -45 takes view 1 (0°); 0° would take view 1 too, so takes view 0 (10°); 45° takes
    # view 2 (60°); sorted by yaw: 0°, 10°, 60°
    assert select_views(np.array([10.0, 0.0, 60.0]), 3).tolist() == [1, 0, 2]
    # -45° takes view 2 (-42°), 0° view 1 (1°), 45° the last one, view 0 (-49°);
    # sorted by yaw: -49°, -42°, 1°
    assert select_views(np.array([-49.0, 1.0, -42.0]), 3).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="cannot select 3 distinct views from 2"):
        select_views(np.array([0.0, 1.0]), 3)


def test_ranked_views_by_hand():
    yaw = np.linspace(-80, 80, 33)  # 5° steps
    rows = ranked_views(yaw, PAPER_TARGET_YAWS, depth=5)
    assert rows.shape == (5, 3)
    np.testing.assert_array_equal(yaw[rows[0]], [-45.0, 0.0, 45.0])
    # the k-th row holds the k-th nearest views: -5° and 5° next to 0° (ties by order)
    np.testing.assert_array_equal(yaw[rows[1:3, 1]], [-5.0, 5.0])
    # yaws 0..5°: every view is nearest 0°, and view 0 nearest -45° too
    # row 0: -45° takes view 0, 0° takes view 1 (0 is taken), 45° takes view 5
    # row 1: -45° takes view 1 (0 was its row 0), 0° takes view 0 (1 was its row 0),
    # 45° takes view 4
    small = np.arange(6.0)
    assert ranked_views(small, PAPER_TARGET_YAWS, depth=2).tolist() == [
        [0, 1, 5],
        [1, 0, 4],
    ]
    # at most V // T rows
    assert ranked_views(small, PAPER_TARGET_YAWS, depth=5).shape == (2, 3)
    assert ranked_views(small[:2], PAPER_TARGET_YAWS, depth=5).shape == (0, 3)


def test_target_yaws():
    assert target_yaws(1).tolist() == [0.0]
    assert target_yaws(3).tolist() == list(PAPER_TARGET_YAWS)
    assert target_yaws(4).tolist() == [-45.0, -15.0, 15.0, 45.0]
    with pytest.raises(ValueError, match="at least one view"):
        target_yaws(0)

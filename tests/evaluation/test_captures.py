"""facelib.evaluation.captures: scores per motion and per subject, vertex error maps,
and one run of the whole evaluation (captures, 3DMM bound, SV Mean curve) on the tiny
data set with untrained networks."""

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from facelib.data.dataset import CAPTURE_MOTIONS, load_dataset
from facelib.evaluation.captures import (
    RUN_FOLDERS,
    CaptureEvaluation,
    evaluate_captures,
    load_networks,
    morphable_model_bound,
    network_metrics,
    sv_mean_curve,
)
from facelib.evaluation.metrics import ARMSE, armse
from facelib.evaluation.table1 import ROWS
from facelib.geometry.procrustes import Similarity
from facelib.learn.checkpoints import save_model
from facelib.learn.nets import MultiView, SingleView
from facelib.learn.validation import Metrics

# ----------------------------------------------------------------- hand-built results

#: ARMSE (mm) of row k on each capture is BASE[capture] + k
BASE = {(7, "orbit"): 1.0, (7, "turn"): 2.0, (3, "orbit"): 4.0, (3, "turn"): 8.0}
N_POINTS = 6


def fake_armse(value: float, ids, distances) -> ARMSE:
    return ARMSE(
        armse_mm=value,
        rmse_pred_to_scan_mm=value,
        rmse_scan_to_pred_mm=value,
        normalized=0.0,
        interocular_mm=100.0,
        pred_vertex_ids=np.asarray(ids),
        pred_distances=np.asarray(distances, dtype=np.float64),
        transform=Similarity(1.0, np.eye(3), np.zeros(3)),
        n_landmarks=68,
    )


@pytest.fixture
def evaluation() -> CaptureEvaluation:
    """Subjects 7 then 3 (not sorted), both motions, every row; vertex 5 is never
    sampled."""
    rng = np.random.default_rng(0)
    keys = [(7, "orbit"), (7, "turn"), (3, "orbit"), (3, "turn")]
    results = {}
    for key in keys:
        results[key] = {}
        for k, row in enumerate(ROWS):
            ids = np.sort(rng.choice(5, size=rng.integers(1, 5), replace=False))
            results[key][row] = fake_armse(
                BASE[key] + k, ids, rng.uniform(0, 3, len(ids))
            )
    return CaptureEvaluation(
        subjects=np.array([7, 3]),
        keys=keys,
        shapes={},
        selections={},
        results=results,
        scans={},
    )


def test_scores_per_motion_and_both(evaluation):
    for k, row in enumerate(ROWS):
        np.testing.assert_array_equal(
            evaluation.scores("orbit", row), [1.0 + k, 4.0 + k]
        )
        np.testing.assert_array_equal(
            evaluation.scores("turn", row), [2.0 + k, 8.0 + k]
        )
        np.testing.assert_array_equal(
            evaluation.scores_both(row), [1.0 + k, 4.0 + k, 2.0 + k, 8.0 + k]
        )
        np.testing.assert_array_equal(evaluation.subject_means(row), [1.5 + k, 6.0 + k])


def test_tables_per_motion_and_both(evaluation):
    tables = evaluation.tables()
    assert list(tables) == [*CAPTURE_MOTIONS, "both"]
    for kind, base in (("orbit", 2.5), ("turn", 5.0), ("both", 3.75)):
        table = tables[kind]
        assert [r.row for r in table] == list(ROWS)
        for k, r in enumerate(table):
            assert r.mean == pytest.approx(base + k)
            assert r.improvement == pytest.approx(-k / base)
    # std over the four captures of 3DMM Mean: values 1, 4, 2, 8
    assert tables["both"][0].std == pytest.approx(np.std([1, 4, 2, 8], ddof=1))
    assert tables["orbit"][0].std == pytest.approx(np.std([1, 4], ddof=1))


def test_vertex_errors_average_the_sampled_distances(evaluation):
    errors = evaluation.vertex_errors(N_POINTS)
    assert list(errors) == list(ROWS)
    for row in ROWS:
        expected = np.zeros(N_POINTS)
        for v in range(N_POINTS):
            seen = []
            for key in evaluation.keys:
                r = evaluation.results[key][row]
                for i, d in zip(r.pred_vertex_ids, r.pred_distances):
                    if i == v:
                        seen.append(d)
            expected[v] = sum(seen) / len(seen) if seen else 0.0
        assert errors[row].shape == (N_POINTS,)
        np.testing.assert_allclose(errors[row], expected, rtol=1e-12)
        assert errors[row][5] == 0.0


def test_vertex_errors_by_hand():
    one = {row: fake_armse(1.0, [0, 2], [1.0, 4.0]) for row in ROWS}
    two = {row: fake_armse(1.0, [2, 3], [2.0, 6.0]) for row in ROWS}
    ev = CaptureEvaluation(
        subjects=np.array([0]),
        keys=[(0, "orbit"), (0, "turn")],
        shapes={},
        selections={},
        results={(0, "orbit"): one, (0, "turn"): two},
        scans={},
    )
    for row, e in ev.vertex_errors(5).items():
        np.testing.assert_allclose(e, [1.0, 0.0, 3.0, 6.0, 0.0])


# ------------------------------------------------- the whole evaluation, tiny data set


def test_run_folders_are_the_networks_of_table1():
    assert list(RUN_FOLDERS) == ["SV", "MV Add", "MV Concat", "MV Shape-Concat"]
    assert len(set(RUN_FOLDERS.values())) == 4


@pytest.fixture(scope="module")
def tiny_evaluation(tiny_path, tmp_path_factory):
    """The tiny data set, four untrained networks saved as runs (with metrics) and
    loaded back with load_networks, evaluate_captures on them, and the runs' folder."""
    data = load_dataset(tiny_path)
    torch.manual_seed(0)
    sv = SingleView(data.morphable_model.n_modes, data.image_size, width=0.125)
    with torch.no_grad():  # untrained, α would be 0 on every frame: make it vary
        torch.nn.init.normal_(sv.alpha_head[-1].weight, std=1.0)
    concat = MultiView.from_single_view(sv, 3, "concat")
    nets = {
        "SV": sv,
        "MV Add": MultiView.from_single_view(sv, 3, "add"),
        "MV Concat": concat,
        "MV Shape-Concat": MultiView.shape_only_from(concat),
    }
    runs = tmp_path_factory.mktemp("runs")
    info = {"morphable_model_sha256": data.morphable_model.fingerprint()}
    for k, (name, net) in enumerate(nets.items()):
        metrics = asdict(stored_metrics(k))
        save_model(runs / RUN_FOLDERS[name], net, {**info, "metrics": metrics})
    loaded = load_networks(runs, data)
    return data, nets, loaded, evaluate_captures(data, loaded, workers=1), runs


def stored_metrics(k: int) -> Metrics:
    """What training would store with the k-th network (the last has no pose)."""
    pose = math.nan if k == 3 else 10.0 + k
    return Metrics(1.0 + k, 2.0 + k, 3.0 + k, pose, pose, 0.5 * k)


def test_network_metrics_are_read_from_every_run_folder(tiny_evaluation):
    runs = tiny_evaluation[-1]
    got = network_metrics(runs)
    assert list(got) == list(RUN_FOLDERS)
    for k, m in enumerate(got.values()):
        want = stored_metrics(k)
        assert isinstance(m, Metrics)
        np.testing.assert_array_equal(
            list(asdict(m).values()), list(asdict(want).values())
        )  # NaN where there is no pose


def test_load_networks_reads_every_run_folder(tiny_evaluation):
    _, nets, loaded, _, _ = tiny_evaluation
    assert list(loaded) == list(RUN_FOLDERS)
    for name, net in nets.items():
        assert type(loaded[name]) is type(net) and not loaded[name].training
        a, b = net.state_dict(), loaded[name].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_evaluate_captures(tiny_evaluation):
    data, _, nets, ev, _ = tiny_evaluation
    model, template = data.morphable_model, data.template
    subject = int(data.capture_subjects[0])
    np.testing.assert_array_equal(ev.subjects, data.capture_subjects)
    assert ev.keys == [(subject, m) for m in CAPTURE_MOTIONS]
    assert list(ev.scans) == [subject]
    for k, key in enumerate(ev.keys):
        assert list(ev.shapes[key]) == list(ROWS) == list(ev.results[key])
        for row in ROWS:
            assert ev.shapes[key][row].shape == (model.n_points, 3)
        np.testing.assert_allclose(ev.shapes[key]["3DMM Mean"], model.mean)
        assert not np.allclose(ev.shapes[key]["SV Mean"], model.mean, atol=0.1)
        # the frames of this motion went through the SV
        frames = torch.from_numpy(np.array(data.capture_images[0, k]))
        with torch.no_grad():
            alpha = nets["SV"](frames).alpha
        sel = ev.selections[key]
        assert sel["alpha_frames"].shape == (data.capture_frames, model.n_modes)
        torch.testing.assert_close(sel["alpha_frames"], alpha, rtol=1e-4, atol=1e-5)
        # every row scored against this subject's scan
        scan = ev.scans[subject]
        for row in ("3DMM Mean", "SV Mean", "MV Shape-Concat Mean"):
            v = ev.shapes[key][row]
            hand = armse(
                v,
                template.faces,
                v[template.landmarks],
                scan.vertices,
                scan.faces,
                scan.landmarks,
            )
            assert ev.results[key][row].armse_mm == pytest.approx(hand.armse_mm)
    a, b = (ev.selections[key]["alpha_frames"] for key in ev.keys)
    assert (a - b).abs().max() > 0.01  # the two motions' frames differ
    assert np.isfinite(ev.scores_both("SV Mean")).all()
    assert ev.scores_both("SV Mean").shape == (2,)
    tables = ev.tables()
    assert [r.row for r in tables["both"]] == list(ROWS)


def test_morphable_model_bound_scores_the_projected_true_shape(tiny_evaluation):
    data, _, _, ev, _ = tiny_evaluation
    model, template = data.morphable_model, data.template
    bound = morphable_model_bound(data, ev, workers=1)
    assert bound.shape == (len(data.capture_subjects),)
    subject = int(data.capture_subjects[0])
    true = torch.from_numpy(np.array(data.shapes[subject], dtype=np.float64))
    fit = model.shape(model.coefficients(true)).numpy()
    scan = ev.scans[subject]
    hand = armse(
        fit,
        template.faces,
        fit[template.landmarks],
        scan.vertices,
        scan.faces,
        scan.landmarks,
    )
    assert bound[0] == pytest.approx(hand.armse_mm)


def test_sv_mean_curve_at_every_frame_is_sv_mean(tiny_evaluation):
    data, _, _, ev, _ = tiny_evaluation
    F = data.capture_frames
    curve = sv_mean_curve(data, ev, [1, 2, F], n_subjects=1, workers=1)
    assert list(curve) == [1, 2, F]
    assert all(len(v) == 2 for v in curve.values())  # one subject, both motions
    # every frame: the SV Mean row
    np.testing.assert_allclose(curve[F], ev.scores_both("SV Mean"), rtol=1e-9)
    # one frame: the first of the video; two: the first and the last
    model, template = data.morphable_model, data.template
    for n, frames in ((1, [0]), (2, [0, F - 1])):
        for (subject, motion), score in zip(ev.keys, curve[n]):
            alpha_frames = ev.selections[(subject, motion)]["alpha_frames"]
            v = model.shape(alpha_frames[frames].mean(0).double()).numpy()
            scan = ev.scans[subject]
            hand = armse(
                v,
                template.faces,
                v[template.landmarks],
                scan.vertices,
                scan.faces,
                scan.landmarks,
            )
            assert score == pytest.approx(hand.armse_mm, rel=1e-9)
    assert curve[1] != curve[2] != curve[F]


def test_frame_count_curve_untrained_mv_any_is_sv_mean(tiny_evaluation):
    """An untrained MV Any is SV Mean (its weights are equal): its curve equals SV
    Mean's from sv_mean_curve (the same evenly spread frames), and ViewAverage's; a
    fixed-N network is scored at its own N only; the summary's interval holds the
    mean."""
    from facelib.evaluation.captures import frame_count_curve
    from facelib.learn.nets import AnyView, ViewAverage

    data, nets, _, ev, _ = tiny_evaluation
    F = data.capture_frames
    counts = [1, 3, F]
    networks = {
        "SV Mean": ViewAverage(nets["SV"]).eval(),
        "MV Any": AnyView.from_single_view(nets["SV"]).eval(),
        "MV Concat": nets["MV Concat"].eval(),
    }
    curve = frame_count_curve(data, ev, networks, counts, n_subjects=1, workers=1)
    assert curve.counts == counts
    assert set(curve.scores["MV Concat"]) == {3}
    reference = sv_mean_curve(data, ev, counts, n_subjects=1, workers=1)
    for n in counts:
        assert len(curve.scores["MV Any"][n]) == 2  # one subject, both motions
        np.testing.assert_allclose(curve.scores["MV Any"][n], reference[n], atol=1e-3)
        np.testing.assert_allclose(
            curve.scores["SV Mean"][n], curve.scores["MV Any"][n], atol=1e-3
        )
    for name, by_count in curve.summary().items():
        for n, (mean, low, high) in by_count.items():
            assert low <= mean <= high, (name, n)
    # the shapes and the protocol's results stay with the scores, video by video
    assert curve.videos == [(int(ev.subjects[0]), m) for m in CAPTURE_MOTIONS]
    for i in range(2):
        for n in counts:
            r = curve.results[i][("MV Any", n)]
            assert r.armse_mm == curve.scores["MV Any"][n][i]
            assert curve.shapes[i][("MV Any", n)].shape == (data.template.n_points, 3)
    with pytest.raises(ValueError, match="counts of frames >= 1"):
        frame_count_curve(data, ev, networks, [0, 3], n_subjects=1)


def test_aligned_on_scan_is_the_protocols_placement_and_trimesh_distances(
    tiny_evaluation,
):
    """The shape moved by the result's similarity; every vertex's distance to the
    scored crop of the scan, as trimesh measures it directly; the shape's triangles
    within the crop sphere round its nose tip."""
    import trimesh

    from facelib.evaluation.captures import aligned_on_scan
    from facelib.evaluation.metrics import CROP_RADIUS_MM, scan_crop_faces

    data, _, _, ev, _ = tiny_evaluation
    key = ev.keys[0]
    row = next(iter(ev.results[key]))
    shape, result = ev.shapes[key][row], ev.results[key][row]
    scan = ev.scans[key[0]]
    on = aligned_on_scan(shape, result, scan, data.template)
    np.testing.assert_allclose(on.vertices, result.transform.apply(shape))
    np.testing.assert_array_equal(
        on.scan_faces, scan_crop_faces(scan.vertices, scan.faces, scan.landmarks)
    )
    mesh = trimesh.Trimesh(scan.vertices, on.scan_faces, process=False)
    _, expected, _ = trimesh.proximity.closest_point(mesh, on.vertices)
    np.testing.assert_allclose(on.distances, expected, atol=1e-9)
    # the protocol's own sample of the distances is part of these
    np.testing.assert_allclose(
        on.distances[result.pred_vertex_ids], result.pred_distances, atol=1e-6
    )
    nose = on.vertices[data.template.landmarks[30]]
    inside = np.linalg.norm(on.vertices - nose, axis=1) <= CROP_RADIUS_MM
    kept = inside[data.template.faces].all(1)
    np.testing.assert_array_equal(on.faces, data.template.faces[kept])
    assert 0 < len(on.faces) <= len(data.template.faces)

"""benchmarks.run (``make bench``) at its tiny size, so that it cannot rot: every part
writes its JSON (with a checksum record), every comparison is of the same images or
scores, and the book's table is generated from the JSON."""

import json
import math

import numpy as np
import pytest

from benchmarks import report
from benchmarks.reference_armse import mesh_distances, point_triangle_distance
from benchmarks.run import SIZES, main
from facelib.storage import verify_checksum


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny run: (results by part, the JSON folder, the markdown table)."""
    root = tmp_path_factory.mktemp("bench")
    out, table = root / "bench", root / "bench_table.md"
    results = main(["--size", "tiny", "--out", str(out), "--table", str(table)])
    return results, out, table


def test_every_part_writes_checked_json(tiny):
    results, out, _ = tiny
    assert tuple(results) == report.PARTS
    for part in report.PARTS:
        path = out / f"{part}.json"
        verify_checksum(path)
        written = json.loads(path.read_text())
        assert written == json.loads(json.dumps(results[part]))
        assert written["size"] == "tiny" and written["machine"]["cores"] >= 1
        assert written["rows"], part
        for row in written["rows"]:
            ours, base = row["ours"]["value"], row["baseline"]
            assert math.isfinite(ours) and ours > 0, (part, row)
            if base is None:
                assert row["ratio"] is None and row["note"], (part, row)
                continue
            assert base["value"] > 0
            expected = (
                ours / base["value"]
                if row["higher_is_better"]
                else base["value"] / ours
            )
            assert row["ratio"] == pytest.approx(expected), (part, row)


def test_rasterizer_compares_the_same_images(tiny):
    rows = tiny[0]["rasterizer"]["rows"]
    sizes = SIZES["tiny"].image_sizes
    assert [r["case"].split(" px")[0] for r in rows] == [
        f"{kind} {s}" for s in sizes for kind in ("rasterize", "render")
    ]
    for row in rows[0::2]:  # against the slow reference: same coverage
        assert row["agreement"] >= 0.99, row
    for row in rows[1::2]:
        if row["baseline"] is None:
            pytest.skip(f"no peer rasterizer on this machine: {row['note']}")
        assert row["agreement"] >= 0.99 and row["colour_difference"] < 0.01, row


def test_armse_agrees_with_the_straightforward_one(tiny):
    (row,) = tiny[0]["armse"]["rows"]
    assert row["agreement_mm"] < 1e-6 and row["agreement_normalized"] < 1e-6


def test_registration_agrees_with_trimesh(tiny):
    (row,) = tiny[0]["registration"]["rows"]
    assert row["baseline"]["what"] == "trimesh.registration.nricp_amberg"
    assert row["agreement_mm"] < 0.5, row


def test_the_table_comes_from_the_json(tiny):
    results, out, table = tiny
    text = table.read_text()
    assert text == report.markdown(report.load_results(out))
    for part, result in results.items():
        for row in result["rows"]:
            assert f"| {part} | {row['case']} |" in text
    # an edited result is refused
    path = out / "armse.json"
    edited = json.loads(path.read_text())
    edited["rows"][0]["ours"]["value"] = 1e-9
    saved = path.read_text()
    path.write_text(json.dumps(edited))
    try:
        with pytest.raises(ValueError):
            report.load_results(out)
    finally:
        path.write_text(saved)


def test_the_table_without_results_names_the_command(tmp_path):
    path = report.write_markdown(tmp_path / "none", tmp_path / "table.md")
    assert "make bench" in path.read_text()


def test_point_triangle_distance_by_hand():
    tri = np.array([[0.0, 0, 0], [2, 0, 0], [0, 2, 0]])
    points = np.array(
        [
            [0.5, 0.5, 3.0],  # above the inside: the plane
            [-1.0, -1.0, 0.0],  # beyond the corner a
            [1.0, -2.0, 1.0],  # beyond the edge ab
            [2.0, 2.0, 0.0],  # beyond the edge bc
        ]
    )
    expected = [3.0, np.sqrt(2), np.sqrt(5), np.sqrt(2)]
    got = point_triangle_distance(points, np.broadcast_to(tri, (4, 3, 3)))
    np.testing.assert_allclose(got, expected)
    # the pruned search finds the same as every triangle of a mesh
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(30, 3))
    faces = rng.integers(0, 30, size=(40, 3))
    queries = rng.normal(size=(25, 3)) * 2
    brute = np.min(
        [
            point_triangle_distance(queries, np.broadcast_to(vertices[f], (25, 3, 3)))
            for f in faces
        ],
        axis=0,
    )
    np.testing.assert_allclose(mesh_distances(queries, vertices, faces), brute)

"""facelib.world.anthropometry against references built independently of it: landmarks
placed by hand so that every distance is known, the moments of a sampled Gaussian
mixture, a vertex cloud with a known widest pair, and a real scan (``james``)."""

import numpy as np
import pytest

from facelib.data.template import FaceTemplate
from facelib.world.anthropometry import (
    MEASUREMENTS,
    PUBLISHED,
    compare,
    measure,
    measure_population,
    pooled,
    zy_zy,
)
from facelib.world.identity import face_shapes, sample_identities
from facelib.world.template import build_template


@pytest.fixture(scope="module")
def template():
    return build_template()


def _hand_landmarks() -> tuple[np.ndarray, dict[str, float]]:
    """68 landmarks with the measured ones placed by hand (the rest random) and the
    distances they give, worked out by hand (mm)."""
    lm = np.random.default_rng(3).uniform(-500.0, 500.0, (68, 3))
    lm[36] = (-47.0, 0.0, 0.0)  # right eye outer corner
    lm[39] = (-16.0, 0.0, 0.0)  # right eye inner corner: fissure 31
    lm[42] = (16.0, 0.0, 0.0)  # left eye inner corner: en-en 32
    lm[45] = (45.0, 0.0, 0.0)  # left eye outer corner: fissure 29, ex-ex 92
    lm[31] = (-17.0, 20.0, -5.0)
    lm[35] = (17.0, 20.0, -5.0)  # al-al 34
    lm[27] = (0.0, -30.0, 0.0)
    lm[33] = (0.0, 22.0, 0.0)  # n-sn 52
    lm[30] = (0.0, 10.0, -16.0)  # sn-prn: 12, 16 -> 20
    lm[48] = (-26.0, 45.0, 3.0)
    lm[54] = (26.0, 45.0, 3.0)  # ch-ch 52
    lm[62] = (0.0, 40.0, -2.0)
    lm[66] = (0.0, 46.0, 2.0)  # stomion (0, 43, 0): sn-sto 21
    lm[8] = (0.0, 88.0, -24.0)  # sto-gn: 45, 24 -> 51; n-gn: 118, 24
    expected = {
        "ex-ex": 92.0,
        "en-en": 32.0,
        "ex-en": 30.0,
        "al-al": 34.0,
        "n-sn": 52.0,
        "sn-prn": 20.0,
        "ch-ch": 52.0,
        "sn-sto": 21.0,
        "sto-gn": 51.0,
        "n-gn": float(np.sqrt(118.0**2 + 24.0**2)),
    }
    return lm, expected


def test_measure_hand_built_landmarks():
    lm, expected = _hand_landmarks()
    got = measure(lm)
    assert list(got) == list(MEASUREMENTS) == list(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name
        assert isinstance(got[name], float)


def test_measure_ignores_rigid_motion():
    """Distances do not depend on the frame: rotate and translate the landmarks."""
    lm, expected = _hand_landmarks()
    a = 0.7
    rot = np.array(
        [[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0, np.cos(a)]]
    )
    got = measure(lm @ rot.T + np.array([5.0, -300.0, 12.0]))
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_measure_rejects_wrong_shape():
    with pytest.raises(ValueError):
        measure(np.zeros((51, 3)))


def test_pooled_by_hand_and_against_a_sampled_mixture():
    # ex-ex: mean (91.2 + 87.8) / 2 = 89.5; variance 3.2^2 + 1.7^2 = 13.13
    mean, sd = pooled("ex-ex")
    assert mean == pytest.approx(89.5)
    assert sd == pytest.approx(np.sqrt(13.13))
    # n-gn against one million draws of a 50/50 mixture of the two Gaussians
    rng = np.random.default_rng(0)
    n = 1_000_000
    male = rng.random(n) < 0.5
    x = np.where(male, rng.normal(121.3, 6.8, n), rng.normal(112.8, 5.2, n))
    mean, sd = pooled("n-gn")
    assert mean == pytest.approx(x.mean(), abs=0.05)
    assert sd == pytest.approx(x.std(), abs=0.05)
    with pytest.raises(KeyError):
        pooled("go-go")


def test_published_table_covers_every_measurement():
    assert set(PUBLISHED) == set(MEASUREMENTS) | {"zy-zy"}
    for norm in PUBLISHED.values():
        assert len(norm) == 4 and all(v > 0 for v in norm)
        assert norm.male_mean >= norm.female_mean  # men's faces are the larger


def test_compare_known_population():
    mean, sd = pooled("ex-ex")
    records = compare({"ex-ex": np.array([mean - 1.0, mean + 1.0, mean])})
    assert len(records) == 1
    r = records[0]
    assert set(r) == {
        "measurement",
        "description",
        "ours_mean",
        "ours_sd",
        "published_mean",
        "published_sd",
        "z",
        "sd_ratio",
    }
    assert r["measurement"] == "ex-ex"
    assert r["ours_mean"] == pytest.approx(mean)
    assert r["ours_sd"] == pytest.approx(1.0)  # sample SD of (-1, 1, 0) around 0
    assert r["published_mean"] == pytest.approx(89.5)
    assert r["published_sd"] == pytest.approx(np.sqrt(13.13))
    assert r["z"] == pytest.approx(0.0, abs=1e-12)
    assert r["sd_ratio"] == pytest.approx(1.0 / np.sqrt(13.13))
    shifted = compare({"ex-ex": np.array([mean + 2 * sd, mean + 2 * sd + 1.0])})
    assert shifted[0]["z"] == pytest.approx(2.0 + 0.5 / sd)


def test_zy_zy_on_a_vertex_cloud_with_a_known_widest_pair():
    # (canonical s, canonical y, x): inside the band (eye level -35 to nose tip +5,
    # |s| < 100) the widest pair is x = -60 and x = 65; the others lie outside it
    rows = [
        (-50.0, -10.0, -60.0),
        (50.0, -10.0, 40.0),
        (0.0, 0.0, 0.0),
        (99.0, -34.0, 65.0),
        (20.0, 5.0, 10.0),
        (-20.0, -35.0, -5.0),
        (0.0, -36.0, 300.0),  # above the eyes
        (0.0, 6.0, -300.0),  # below the nose tip
        (101.0, -10.0, 200.0),  # beyond |s| = 100 (the ears)
        (-100.0, -10.0, -200.0),  # on the limit, excluded
    ]
    rows = np.array(rows)
    p = len(rows)
    template = FaceTemplate(
        canonical=rows[:, :2],
        faces=np.zeros((0, 3), dtype=np.int64),
        mirror=np.arange(p),
        landmarks=np.zeros(68, dtype=np.int64),
        grid_shape=(1, p),
    )
    vertices = np.zeros((p, 3))
    vertices[:, 0] = rows[:, 2]
    vertices[:, 1] = np.linspace(-50, 50, p)  # y and z do not count
    vertices[:, 2] = np.linspace(90, -90, p)
    assert zy_zy(vertices, template) == pytest.approx(125.0)


def test_measure_population_of_sampled_faces(template):
    shapes = face_shapes(sample_identities(20, np.random.default_rng(0)), template)
    pop = measure_population(shapes, template)
    assert list(pop) == list(MEASUREMENTS) + ["zy-zy"]
    for name, values in pop.items():
        assert values.shape == (20,), name
        assert np.all(np.isfinite(values)) and np.all(values > 0), name
    assert np.all((pop["ex-ex"] > 60.0) & (pop["ex-ex"] < 130.0))
    assert np.all((pop["zy-zy"] > 100.0) & (pop["zy-zy"] < 180.0))
    assert np.all(pop["zy-zy"] > pop["ex-ex"])  # the cheekbones outside the eyes
    assert np.all(pop["ex-ex"] > pop["en-en"])
    assert np.all(pop["n-gn"] > pop["n-sn"])
    # the population is the faces measured one at a time
    one = measure(shapes[7][template.landmarks])
    for name, value in one.items():
        assert pop[name][7] == pytest.approx(value)
    assert pop["zy-zy"][7] == pytest.approx(zy_zy(shapes[7], template))
    records = compare(pop)
    assert [r["measurement"] for r in records] == list(pop)
    assert all(np.isfinite(r["z"]) and r["sd_ratio"] > 0 for r in records)


def test_james_within_published_norms(james):
    """A real adult's face measures within 4 pooled SDs of the norms."""
    got = measure(james.scan.landmarks)
    for name in ("ex-ex", "ch-ch", "n-gn"):
        mean, sd = pooled(name)
        assert abs(got[name] - mean) < 4.0 * sd, (name, got[name], mean, sd)

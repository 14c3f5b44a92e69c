"""Bad input to the camera model and the 3DMM is refused with an error that names the
problem and the fix; valid input gives exactly what it gave before the checks."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from facelib.geometry import camera
from facelib.geometry.morphable_model import MorphableModel

Q = torch.tensor([1.0, 0.0, 0.0, 0.0])
T = torch.tensor([0.0, 0.0, 500.0])
K = camera.intrinsics_from_fov(40.0, 64, 64)
POINTS = torch.tensor([[0.0, 0.0, 0.0], [10.0, -20.0, 30.0], [-40.0, 5.0, -60.0]])

NOT_ROTATION = "orthonormal matrix with determinant \\+1"


# ----------------------------------------------------------------- matrix_to_quaternion
@pytest.mark.parametrize(
    "R, problem",
    [
        (2 * torch.eye(3), "not a rotation"),
        (torch.zeros(3, 3), "not a rotation"),
        (torch.tensor([[1.0, 1e-3, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "not a"),
        (torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]]), "not a"),
    ],
    ids=["2I", "zero", "shear", "arbitrary"],
)
def test_matrix_to_quaternion_refuses_non_orthogonal_matrices(R, problem):
    with pytest.raises(ValueError, match=f"{problem}.*{NOT_ROTATION}"):
        camera.matrix_to_quaternion(R)


def test_matrix_to_quaternion_refuses_a_reflection():
    R = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="determinant -1, a reflection.*det R = \\+1"):
        camera.matrix_to_quaternion(R)


def test_matrix_to_quaternion_names_the_bad_matrix_of_a_batch():
    R = torch.from_numpy(Rotation.random(4, random_state=0).as_matrix())
    R[2] *= 1.01
    with pytest.raises(ValueError, match=r"batch index \(2,\).*not a rotation"):
        camera.matrix_to_quaternion(R)


def test_matrix_to_quaternion_accepts_float32_rotations_and_is_unchanged():
    R = torch.from_numpy(Rotation.random(50, random_state=1).as_matrix()).float()
    q = camera.matrix_to_quaternion(R)
    # the checks add nothing to the numbers: the unit quaternion of the same formula
    back = camera.quaternion_to_matrix(q)
    assert (back - R).abs().max() < 1e-5


# ------------------------------------------------------------------ dtypes and batches
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: camera.quaternion_to_matrix(torch.tensor([1, 0, 0, 0])), "quaternion"),
        (lambda: camera.matrix_to_quaternion(torch.eye(3, dtype=torch.long)), "rot"),
        (lambda: camera.project(POINTS.long(), K, Q, T), "points"),
        (lambda: camera.project(POINTS, K.int(), Q, T), "intrinsics K"),
        (lambda: camera.model_to_camera(POINTS, Q, T.long()), "translations"),
        (
            lambda: camera.yaw_pitch_roll_to_quaternion(torch.tensor([30, 0, 0])),
            "angles",
        ),
        (
            lambda: camera.translation_from_image(torch.tensor([1, 2, 3]), K),
            "image_t",
        ),
    ],
    ids=["q", "R", "points", "K", "t", "angles", "image_t"],
)
def test_integer_tensors_are_refused_by_name(call, name):
    with pytest.raises(TypeError, match=f"{name}.*int.*convert it explicitly"):
        call()


@pytest.mark.parametrize(
    "call, names",
    [
        (lambda: camera.project(POINTS.double(), K, Q, T), "points.*quaternions q"),
        (lambda: camera.project(POINTS, K.double(), Q, T), "intrinsics K.*camera-fr"),
        (lambda: camera.camera_center(Q, T.double()), "quaternions q.*translations t"),
        (lambda: camera.translation_to_image(T, K.double()), "translation t.*K"),
    ],
    ids=["points-q", "K-points", "camera_center", "translation_to_image"],
)
def test_mixed_dtypes_are_refused_by_name(call, names):
    with pytest.raises(TypeError, match=f"{names}.*give them one dtype"):
        call()


def test_a_translation_of_another_dtype_is_still_promoted():
    """The documented exception: ``t`` is only added, as before the checks."""
    cam = camera.model_to_camera(POINTS, Q, T.double())
    assert cam.dtype == torch.float64
    assert torch.equal(cam, POINTS.double() + T.double())


@pytest.mark.parametrize(
    "call",
    [
        lambda: camera.project(torch.zeros(2, 5, 3), K, Q.expand(3, 4), T),
        lambda: camera.project(torch.zeros(2, 5, 3), K.expand(3, 3, 3), Q, T),
        lambda: camera.model_to_camera(torch.zeros(4, 5, 3), Q, T.expand(2, 3)),
        lambda: camera.camera_center(Q.expand(2, 4), T.expand(3, 3)),
        lambda: camera.translation_to_image(T.expand(2, 3), K.expand(3, 3, 3)),
    ],
    ids=["project-q", "project-K", "model_to_camera-t", "center", "to_image"],
)
def test_batches_that_do_not_broadcast_are_named(call):
    with pytest.raises(ValueError, match="do not broadcast.*same leading dimensions"):
        call()


# ----------------------------------------------------------------- singular K, behind
@pytest.mark.parametrize(
    "bad_K",
    [
        torch.zeros(3, 3),
        K * torch.tensor([0.0, 1.0, 1.0])[:, None],  # f_x = 0
        K * torch.tensor([1.0, 0.0, 1.0])[:, None],  # f_y = 0
        torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),  # det 0
    ],
    ids=["zero", "fx0", "fy0", "det0"],
)
def test_project_refuses_a_singular_K(bad_K):
    with pytest.raises(ValueError, match="K is singular.*intrinsics_from_fov"):
        camera.project(POINTS, bad_K, Q, T)


def test_translation_functions_refuse_a_zero_focal_length():
    zero_f = K * torch.tensor([0.0, 1.0, 1.0])[:, None]
    with pytest.raises(ValueError, match="singular.*non-zero focal lengths"):
        camera.translation_from_image(torch.tensor([1.0, 2.0, 0.0]), zero_f)
    with pytest.raises(ValueError, match="singular.*non-zero focal lengths"):
        camera.translation_to_image(T, zero_f)


@pytest.mark.parametrize("z", [-600.0, -500.0, -501.0], ids=["behind", "on", "far"])
def test_project_refuses_points_on_or_behind_the_camera(z):
    points = torch.cat([POINTS, torch.tensor([[0.0, 0.0, z]])])
    with pytest.raises(ValueError, match="1 of 4 points lie on or behind.*larger t_z"):
        camera.project(points, K, Q, T)


def test_project_names_the_first_point_behind_in_a_batch():
    points = POINTS.expand(2, 3, 3).clone()
    points[1, 2, 2] = -700.0
    with pytest.raises(ValueError, match=r"index \(1, 2\), z = -200 mm"):
        camera.project(points, K, Q, T)


def test_valid_projection_is_the_formula_to_rounding():
    """The checks change nothing on valid input: Eq. 3-4 written out in two steps
    (model to camera frame, then K), to float64 rounding."""
    q = torch.tensor([0.9, 0.1, -0.2, 0.05], dtype=torch.float64)
    t = torch.tensor([5.0, -3.0, 500.0], dtype=torch.float64)
    Kd = camera.intrinsics_from_fov(30.0, 64, 48, dtype=torch.float64)
    X = POINTS.double()
    cam = X @ camera.quaternion_to_matrix(q).transpose(-1, -2) + t
    uvw = cam @ Kd.transpose(-1, -2)
    torch.testing.assert_close(
        camera.project(X, Kd, q, t), uvw[..., :2] / uvw[..., 2:3], rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("fov", [0.0, -10.0, 180.0, 200.0, float("nan")])
def test_intrinsics_from_fov_refuses_fields_of_view_out_of_range(fov):
    with pytest.raises(ValueError, match=r"in \(0, 180\) degrees.*horizontal angle"):
        camera.intrinsics_from_fov(fov, 64, 64)


# ------------------------------------------------------------------------------ 3DMM
def tiny_model() -> MorphableModel:
    """4 vertices, 2 modes: small enough to write by hand."""
    mean = np.array([[-1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]]) * 30
    components = np.zeros((2, 4, 3))
    components[0, :, 2] = 0.5  # all vertices forward: orthonormal rows
    components[1, 2, 1], components[1, 3, 1] = np.sqrt(0.5), -np.sqrt(0.5)
    return MorphableModel(
        mean=mean,
        components=components,
        std=np.array([5.0, 2.0]),
        faces=np.array([[0, 1, 2], [0, 3, 1]]),
        landmarks=np.array([2, 3]),
        mirror=np.array([1, 0, 2, 3]),
    )


@pytest.mark.parametrize(
    "alpha", [torch.zeros(3), torch.zeros(4, 1), torch.zeros(())], ids=str
)
def test_shape_refuses_alpha_of_another_length(alpha):
    with pytest.raises(ValueError, match=r"alpha \(\.\.\., 2\).*coefficients of this"):
        tiny_model().shape(alpha)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_shape_refuses_non_finite_alpha(bad):
    alpha = torch.zeros(3, 2, dtype=torch.float64)
    alpha[1, 0] = bad
    with pytest.raises(ValueError, match=r"non-finite.*index \(1, 0\).*pass finite"):
        tiny_model().shape(alpha)


def test_shape_refuses_complex_or_boolean_alpha_and_keeps_valid_numbers():
    model = tiny_model()
    with pytest.raises(TypeError, match="real coefficients.*float tensor"):
        model.shape(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="real coefficients"):
        model.shape(torch.zeros(2, dtype=torch.bool))
    alpha = torch.tensor([1.0, -2.0], dtype=torch.float64)
    want = (
        model.mean + 1.0 * 5.0 * model.components[0] - 2.0 * 2.0 * model.components[1]
    )
    np.testing.assert_allclose(model.shape(alpha).numpy(), want, atol=1e-12)


def test_coefficients_refuse_integer_or_non_finite_shapes():
    model = tiny_model()
    with pytest.raises(TypeError, match="floating-point.*convert them explicitly"):
        model.coefficients(torch.zeros(4, 3, dtype=torch.long))
    bad = torch.zeros(4, 3, dtype=torch.float64)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite.*pass finite shapes"):
        model.coefficients(bad)


def test_constructor_refuses_fractional_vertex_ids():
    arrays = tiny_model().arrays()
    arrays["faces"] = arrays["faces"] + 0.5
    with pytest.raises(ValueError, match="faces as integer vertex ids.*fractional"):
        MorphableModel(**arrays)


ARRAYS = dict(tiny_model().arrays(), format_version=np.array(1))
EXTRA = dict(tiny_model().arrays(), notes=np.zeros(2))
BAD_FACES = dict(tiny_model().arrays(), faces=np.array([[0, 1, 9]]))


def save_arrays(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: p.write_bytes(b""), "not a readable .npz"),
        (lambda p: p.write_bytes(b"PK\x03\x04 half a zip"), "not a readable .npz"),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros(3)), "not a readable"),
        (lambda p: save_arrays(p, weights=np.zeros(3)), "missing arrays"),
        (lambda p: save_arrays(p, format_version=np.array(1), **EXTRA), "unknown arr"),
        (
            lambda p: save_arrays(p, **dict(ARRAYS, format_version=np.array("1"))),
            "form",
        ),
        (lambda p: save_arrays(p, **dict(ARRAYS, format_version=np.array(7))), "vers"),
        (lambda p: save_arrays(p, format_version=np.array(1), **BAD_FACES), "invalid"),
    ],
    ids=["empty", "half-zip", "npy", "foreign", "extra", "version-str", "v7", "bad"],
)
def test_load_names_the_file_and_says_rebuild(tmp_path, make, problem):
    path = tmp_path / "model.npz"
    make(path)
    if not path.exists():  # np.save wrote model.npy: give it the model's name
        path.write_bytes(path.with_suffix(".npy").read_bytes())
    with pytest.raises(ValueError, match=f"model.npz.*{problem}.*rebuild it"):
        MorphableModel.load(path)


def test_save_then_load_is_unchanged(tmp_path):
    model = tiny_model()
    loaded = MorphableModel.load(model.save(tmp_path / "m.npz"))
    assert loaded.fingerprint() == model.fingerprint()

"""facelib.reconstruct end to end on files written here: photographs (real ones from
scikit-image, and edited copies), untrained networks of the tiny data set saved as runs,
the command line, and the files it writes read back by trimesh and by
``armse_from_files``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from facelib.cli import main
from facelib.data.dataset import load_dataset
from facelib.evaluation.metrics import armse, armse_from_files
from facelib.geometry.framing import Framing
from facelib.learn.checkpoints import save_model
from facelib.learn.nets import MultiView, SingleView
from facelib.reconstruct.export import to_file_frame
from facelib.reconstruct.photos import FaceNotFound, find_face, read_photo
from facelib.reconstruct.pipeline import (
    OUTPUT_FILES,
    PhotoReconstructor,
    write_outputs,
)
from facelib.storage import file_sha256

FRAMING = Framing(margin=1.6, shift=(0.0, -0.05))


@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    return np.asarray(skimage_data.astronaut())  # (512, 512, 3), one face


@pytest.fixture(scope="module")
def runs(tiny_path, tmp_path_factory):
    """Untrained single-view and MV Concat networks of the tiny data set, saved as
    the runs ``sv/`` and ``mv_concat/`` that name the data set."""
    data = load_dataset(tiny_path)
    torch.manual_seed(0)
    sv = SingleView(data.morphable_model.n_modes, data.image_size, width=0.125)
    with torch.no_grad():  # α would be 0 for every photograph: make it vary
        torch.nn.init.normal_(sv.alpha_head[-1].weight, std=0.5)
    mv = MultiView.from_single_view(sv, 3, "concat")
    folder = tmp_path_factory.mktemp("runs")
    meta = {
        "morphable_model_sha256": data.morphable_model.fingerprint(),
        "dataset": str(tiny_path),
    }
    save_model(folder / "sv", sv, meta)
    save_model(folder / "mv_concat", mv, meta)
    return folder


@pytest.fixture(scope="module")
def recon(runs):
    return PhotoReconstructor.from_runs(runs, framing=FRAMING)


def save(path, image, **kw):
    Image.fromarray(image).save(path, **kw)
    return path


def shifted(image, dx):
    return np.roll(image, dx, axis=1)


def test_one_photograph_goes_to_the_single_view_network(recon, astronaut, tmp_path):
    path = save(tmp_path / "a.jpg", astronaut, quality=92)
    result = recon([path])
    assert result.network == "sv" and result.used == [0]
    assert result.vertices.shape == (recon.data.template.n_points, 3)
    assert result.K.shape == (1, 3, 3) and result.q.shape == (1, 4)
    assert result.t[0, 2] > 0  # the face in front of the camera
    # the crop's intrinsics are the photograph's, cropped (K at 60° across 512 px)
    f = result.photos[0]
    np.testing.assert_allclose(f.K[0, 0], 256 / np.tan(np.radians(30)))
    np.testing.assert_allclose(f.crop_K, f.crop.intrinsics(f.K))
    assert result.texture.shape == (256, 256, 3)
    assert set(result.seconds) == {"detector", "network", "texture"}


@pytest.mark.parametrize("n", [3, 5])
def test_several_photographs_go_to_the_multi_view_network(
    recon, astronaut, tmp_path, n
):
    paths = [save(tmp_path / f"p{k}.png", shifted(astronaut, 12 * k)) for k in range(n)]
    result = recon(paths)
    assert result.network == "mv" and len(result.used) == 3
    assert len(set(result.used)) == 3 and set(result.used) <= set(range(n))
    assert len(result.photos) == n and result.q.shape == (n, 4)  # a camera for each
    again = recon(paths[::-1])  # any order: the same face
    np.testing.assert_allclose(again.vertices, result.vertices, atol=1e-4)


def test_two_photographs_fall_back_to_sv_mean_with_a_warning(recon, astronaut):
    said = []
    result = recon([astronaut, shifted(astronaut, 9)], log=said.append)
    assert result.network == "sv mean" and result.used == [0, 1]
    assert any("SV Mean" in s for s in said)


def test_a_photograph_without_a_face(recon, astronaut, tmp_path):
    grey = save(tmp_path / "wall.png", np.full((300, 400, 3), 128, np.uint8))
    with pytest.raises(FaceNotFound, match="wall.png: no face found"):
        with pytest.warns(UserWarning, match="wall.png"):
            recon([grey])
    said = []
    face = save(tmp_path / "face.png", astronaut)
    result = recon([grey, face], log=said.append)  # the other one still counts
    assert [p.name for p in result.photos] == ["face.png"]
    assert len(result.skipped) == 1 and "wall.png" in said[0]
    with pytest.raises(ValueError, match="no photographs given"):
        recon([])


def test_two_faces_largest_first_or_the_one_asked_for(astronaut):
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    canvas = np.full((512, 900, 3), 120, np.uint8)
    canvas[:, :512] = astronaut
    canvas[100:356, 600:856] = small
    big_box, n = find_face(canvas)
    assert n >= 2 and big_box[0] < 512
    small_box, _ = find_face(canvas, face=1)
    assert small_box[0] > 512 and small_box[2] < big_box[2]
    with pytest.raises(FaceNotFound, match="asked for face 7"):
        find_face(canvas, face=7)


def test_exif_orientation_is_honoured(astronaut, tmp_path):
    """Stored turned 90° with EXIF orientation 6 ("rotate 90° clockwise to view"),
    the photograph reads back upright."""
    turned = Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "turned.png"
    turned.save(path, exif=exif)
    np.testing.assert_array_equal(read_photo(path), astronaut)
    find_face(read_photo(path))  # and the face is found


def test_png_with_alpha_is_laid_over_grey(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :6, 3] = 255  # left half opaque red, right half transparent
    path = save(tmp_path / "alpha.png", rgba)
    image = read_photo(path)
    assert image.shape == (10, 12, 3)
    np.testing.assert_array_equal(image[:, :6], [[[255, 0, 0]] * 6] * 10)
    np.testing.assert_array_equal(image[:, 6:], [[[128, 128, 128]] * 6] * 10)
    with pytest.raises(ValueError, match="not an image"):
        read_photo(save_text(tmp_path / "x.jpg", "not a jpeg"))


def save_text(path, text):
    path.write_text(text)
    return path


def test_outputs_load_back_and_score_with_one_call(recon, astronaut, tmp_path):
    result = recon([astronaut])
    out = tmp_path / "out"
    sums = write_outputs(result, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    recorded = json.loads((out / "checksums.json").read_text())["sha256"]
    assert recorded == sums == {k: file_sha256(out / k) for k in sums}
    mesh = trimesh.load(out / "face.obj", process=False, force="mesh")
    np.testing.assert_allclose(mesh.vertices, to_file_frame(result.vertices), atol=1e-4)
    np.testing.assert_array_equal(mesh.faces, result.faces)
    np.testing.assert_allclose(mesh.visual.uv, result.uv, atol=1e-5)
    assert mesh.visual.material.image.size == (256, 256)
    ply = trimesh.load(out / "face.ply", process=False)
    assert ply.visual.vertex_colors.shape == (len(result.vertices), 4)
    # +y up: the forehead above the chin; the nose towards +z
    lm = np.loadtxt(out / "landmarks.txt")
    assert lm.shape == (68, 3) and lm[27, 1] > lm[8, 1] and lm[30, 2] > lm[0, 2]
    cams = json.loads((out / "cameras.json").read_text())["cameras"]
    assert len(cams) == 1 and cams[0]["width"] == 512
    # the exported face against the reconstruction, both as files: ARMSE 0; against
    # a scan written here, the same score as armse() on the arrays
    assert armse_from_files(
        out / "face.obj", out / "landmarks.txt", out / "face.obj", out / "landmarks.txt"
    ).armse_mm == pytest.approx(0.0, abs=1e-6)
    scan = recon.data.morphable_model.shape(
        torch.ones(recon.data.morphable_model.n_modes).double()
    ).numpy()
    trimesh.Trimesh(scan, result.faces, process=False).export(tmp_path / "scan.obj")
    lm_ids = recon.data.template.landmarks
    np.savetxt(tmp_path / "scan_lm.txt", scan[lm_ids])
    from_files = armse_from_files(
        out / "face.obj",
        out / "landmarks.txt",
        tmp_path / "scan.obj",
        tmp_path / "scan_lm.txt",
    ).armse_mm
    direct = armse(
        result.vertices,
        result.faces,
        result.landmarks,
        scan,
        result.faces,
        scan[lm_ids],
    ).armse_mm
    assert from_files == pytest.approx(direct, rel=1e-3)
    with pytest.raises(FileExistsError, match="already holds"):
        write_outputs(result, out)


def test_command_line_single_batch_and_errors(runs, astronaut, tmp_path, capsys):
    photo = save(tmp_path / "me.jpg", astronaut)
    out = tmp_path / "cli"
    assert main(["reconstruct", str(photo), "--model", str(runs), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    err = capsys.readouterr().err
    assert "network sv" in err and "detector" in err
    people = tmp_path / "people"
    for person, k in (("ann", 1), ("bob", 3)):
        (people / person).mkdir(parents=True)
        for i in range(k):
            save(people / person / f"{i}.png", shifted(astronaut, 10 * i))
    (people / "eve").mkdir()
    save(people / "eve" / "wall.png", np.full((200, 200, 3), 90, np.uint8))
    code = main(
        ["reconstruct", "--batch", str(people), "--model", str(runs), "-o", str(out)]
    )
    assert code == 1  # eve has no face
    err = capsys.readouterr().err
    assert "[1/3] ann" in err and "[2/3] bob" in err and "eve: error" in err
    assert (out / "bob" / "face.obj").is_file() and not (out / "eve").exists()
    with pytest.raises(SystemExit, match="no such file"):
        main(["reconstruct", "nope.jpg", "--model", str(runs), "-o", str(out)])


def test_python_dash_m_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "facelib", "reconstruct", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--model" in done.stdout and "--batch" in done.stdout

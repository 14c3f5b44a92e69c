"""facelib.evaluation.user_photos: capture frames as photographs, scoring an exported
file against a scan, and the command run as a subprocess."""

import numpy as np
import pytest
import torch
from PIL import Image

from facelib.evaluation.metrics import armse
from facelib.evaluation.user_photos import (
    capture_photographs,
    phone_photographs,
    run_reconstruct,
    score_export,
)
from facelib.geometry.camera import quaternion_to_yaw_pitch_roll
from facelib.reconstruct.export import to_file_frame, write_obj


def test_capture_photographs_are_the_frames_nearest_the_yaws(data, tmp_path):
    paths, yaws = capture_photographs(data, 0, tmp_path, yaws=(20.0, -20.0, 0.0))
    q = torch.from_numpy(np.array(data.capture_q[0, 0], dtype=np.float64))
    all_yaws = quaternion_to_yaw_pitch_roll(q)[:, 0].numpy()
    for path, yaw, want in zip(paths, yaws, (20.0, -20.0, 0.0)):
        f = int(path.stem.split("_")[1])
        assert np.abs(all_yaws - want).min() == pytest.approx(abs(yaw - want))
        assert all_yaws[f] == yaw
        image = np.asarray(Image.open(path))
        frame = np.asarray(data.capture_images[0, 0, f]).transpose(1, 2, 0)
        assert image.shape == frame.shape
        assert np.abs(image.astype(int) - frame).mean() < 8  # JPEG at quality 92


def test_score_export_reads_the_files_and_scores_the_mean_face(data, tmp_path):
    subject = int(data.capture_subjects[0])
    truth = np.asarray(data.shapes[subject], dtype=np.float64)
    faces = data.morphable_model.faces
    lm = truth[data.template.landmarks]
    uv = np.zeros((len(truth), 2))
    write_obj(tmp_path / "face.obj", to_file_frame(truth), faces, uv, "t.png")
    np.savetxt(tmp_path / "landmarks.txt", to_file_frame(lm))
    score = score_export(tmp_path, data, subject)
    scan = data.scan(subject)
    direct = armse(truth, faces, lm, scan.vertices, scan.faces, scan.landmarks)
    assert score.export_mm == pytest.approx(direct.armse_mm, rel=1e-3)
    assert score.export_mm < score.mean_face_mm


def test_phone_photographs_are_640_by_480():
    image = np.full((100, 80, 3), 200, np.uint8)
    frames = phone_photographs(image, 3)
    assert [f.shape for f in frames] == [(480, 640, 3)] * 3
    assert not np.array_equal(frames[0], frames[1])  # each a little further right


def test_run_reconstruct_reports_the_commands_error(tmp_path):
    done = run_reconstruct([tmp_path / "missing.jpg"], tmp_path, tmp_path / "out")
    assert done.returncode != 0 and "no such file" in done.stderr

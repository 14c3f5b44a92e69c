"""facelib.learn.precision: when the network runs under bf16 autocast."""

import pytest

from facelib.learn.precision import PRECISIONS, uses_bf16


def test_precision_decides_bf16_autocast():
    assert PRECISIONS == ("auto", "bf16", "fp32")
    assert not uses_bf16("auto", "cpu") and uses_bf16("auto", "cuda")
    assert uses_bf16("auto", "cuda:1")
    assert uses_bf16("bf16", "cpu") and uses_bf16("bf16", "cuda")
    assert not uses_bf16("fp32", "cuda") and not uses_bf16("fp32", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        uses_bf16("fp16", "cpu")

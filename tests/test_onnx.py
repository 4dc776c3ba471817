"""ONNX export: same output as torch at sizes it was not traced at; clear refusals otherwise.

Needs the ``onnx`` extra (onnx, onnxscript) and onnxruntime, which the ``test``
extra installs, so CI runs these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from noiseda_core.errors import UserError
from noiseda_core.nets import RESTORERS, build_restorer
from noiseda_core.onnx_export import ONNX_ARCHS, UNSUPPORTED_WHY, export_onnx

ort = pytest.importorskip("onnxruntime", reason="runs where the test extra is installed (CI)")
pytest.importorskip("onnxscript", reason="runs where the test extra is installed (CI)")

TINY = {
    "unet-tiny": {},
    "dncnn": {"nc": 8, "nb": 5},
    "nafnet": {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]},
    "swinir": {"embed_dim": 12, "depths": [2], "num_heads": [2], "img_size": 32},
    "uformer": {"embed_dim": 8, "depths": [1] * 9, "num_heads": [1] * 9, "win_size": 4},
}


def test_every_registered_architecture_is_either_exported_or_refused_with_a_reason() -> None:
    for name in RESTORERS:
        assert (name in ONNX_ARCHS) != (name in UNSUPPORTED_WHY), name


@pytest.mark.parametrize("name", ["unet-tiny", "dncnn", "nafnet"])
def test_exported_model_matches_torch_at_other_sizes_and_batches(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    restorer = build_restorer(name, **TINY[name]).eval()
    path = export_onnx(restorer, tmp_path / f"{name}.onnx")
    session = ort.InferenceSession(str(path))
    # traced at (2, 3, 64, 72); sides below the pad multiple (down to 1 px) work too
    for shape in [(1, 3, 40, 56), (3, 3, 37, 50), (1, 3, 1, 1), (2, 3, 3, 5), (1, 3, 4, 9)]:
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = restorer(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.onnx"]


@pytest.mark.parametrize("name", ["swinir", "uformer"])
def test_unsupported_architectures_are_refused_clearly(name: str, tmp_path: Path) -> None:
    restorer = build_restorer(name, **TINY[name])
    with pytest.raises(UserError, match=f"does not support {name}.*safetensors"):
        export_onnx(restorer, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())

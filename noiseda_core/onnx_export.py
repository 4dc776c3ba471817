"""Export a restorer to ONNX with dynamic batch, height and width.

The exported graph does what ``Restorer.forward`` does for images of any size (down to
1×1): pad bottom/right up to the multiple (mirrored, then the edge repeated, as
``pad_to_multiple``), run the net, add the input for residual nets, crop back.
It is exported with ``torch.export`` (the ``onnx`` and ``onnxscript`` packages),
then checked with onnxruntime at another size when that is installed.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_write
from .errors import UserError
from .nets import Restorer

# architectures whose export we test (tests/test_onnx.py); others are refused
ONNX_ARCHS = ("unet-tiny", "unet-t", "unet-s", "unet-b", "dncnn", "nafnet")
UNSUPPORTED_WHY = {  # measured: the exported graph's output differs from torch's
    "swinir": "its shifted-window attention mask is fixed at the traced size and batch",
    "uformer": "its windowed attention needs square inputs sized at export time",
    "restormer": "it is not tested with ONNX here",
}
EXAMPLE_SIDE = 64  # the size traced; any other size works at run time


def _padding_index(length: int, target: int) -> torch.Tensor:
    """Source index of each of ``target`` positions when ``length`` is padded at the end as
    ``nets.base.pad_to_multiple`` does: mirrored while the side allows, then the edge
    repeated (so sides of 1 to 4 pixels work too); no branch on the sizes."""
    i = torch.arange(target)
    return torch.where(i < length, i, (2 * (length - 1) - i).clamp(min=0))


class _ExportableRestorer(nn.Module):
    """``Restorer.forward`` written with symbolic sizes only (no Python branches on them)."""

    def __init__(self, restorer: Restorer) -> None:
        super().__init__()
        self.net = restorer.net
        self.multiple = restorer.pad_multiple
        self.adds_input = restorer.adds_input
        self.square = restorer.square

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, 3, H, W) in [0, 1], any H, W ≥ 1 → (B, 3, H, W)."""
        h, w = x.shape[-2], x.shape[-1]
        rows = _padding_index(h, h + (-h) % self.multiple)
        cols = _padding_index(w, w + (-w) % self.multiple)
        xp = x.index_select(2, rows).index_select(3, cols)
        out = self.net(xp)
        if not self.adds_input:
            out = xp + out
        return out[:, :, :h, :w]


def export_onnx(restorer: Restorer, out: Path, *, replace: bool = True) -> Path:
    """Write ``restorer`` as an ONNX model at ``out`` (atomically); UserError if unsupported.

    ``replace=False``: ``FileExistsError`` if ``out`` exists by the time it is written.
    """
    try:
        importlib.import_module("onnx")
        importlib.import_module("onnxscript")
    except ImportError:
        raise UserError(
            "ONNX export needs the onnx packages: pip install 'noiseda-studio[onnx]'"
        ) from None
    if restorer.arch not in ONNX_ARCHS:
        why = UNSUPPORTED_WHY.get(restorer.arch, "it is not tested with ONNX")
        raise UserError(
            f"ONNX export does not support {restorer.arch} ({why}); export "
            f"safetensors instead, or train one of: {', '.join(ONNX_ARCHS)}"
        )
    model = _ExportableRestorer(restorer).eval()
    side = max(EXAMPLE_SIDE, 2 * restorer.pad_multiple)
    example = torch.rand(2, 3, side, side + restorer.pad_multiple)
    batch = torch.export.Dim("batch", min=1, max=1024)
    height = torch.export.Dim("height", min=1, max=65536)
    width = torch.export.Dim("width", min=1, max=65536)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=["input"],
                output_names=["restored"],
                dynamic_shapes={"x": {0: batch, 2: height, 3: width}},
                verbose=False,
            )
            if program is None:  # pragma: no cover - dynamo=True always returns the program
                raise RuntimeError("torch.onnx.export returned no program")
            program.save(str(tmp))

    try:
        atomic_write(Path(out), write, replace=replace)
    except (UserError, FileExistsError):
        raise
    except Exception as exc:  # the exporter raises many types; name the net and the cause
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(
            f"ONNX export of {restorer.arch} failed ({exc.__class__.__name__}: "
            f"{first[:200]}); export safetensors instead"
        ) from None
    return Path(out)

"""Restoration work for the restore view, run off the GUI thread by ``app.tasks.Task``.

The functions below (load a model, restore one image, restore a batch) import
torch and ``noiseda_core`` only when they run, so opening the window stays fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtGui import QImage

from noiseda_core.errors import UserError

if TYPE_CHECKING:
    import torch

    from noiseda_core.restore_files import RestoreReport


# --------------------------------------------------------------- QImage <-> arrays
def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage as an (H, W, 3) uint8 RGB array (alpha dropped)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    buffer = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=h * stride)
    return buffer.reshape(h, stride)[:, : w * 3].reshape(h, w, 3).copy()


def array_to_qimage(array: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 RGB array as a QImage that owns its pixels."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = array.shape[:2]
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def tensor_to_array(img: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] → (H, W, 3) uint8 (the core's conversion)."""
    from noiseda_core.imageio import tensor_to_uint8

    return tensor_to_uint8(img)


def array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, H, W) float32 in [0, 1] (the core's conversion)."""
    from noiseda_core.imageio import array_to_tensor as to_tensor

    return to_tensor(array)


# -------------------------------------------------------------------------- models
@dataclass
class LoadedModel:
    """A restorer ready to run, with what the view shows about it."""

    path: Path
    model: Any  # noiseda_core Restorer (torch is imported lazily)
    device: Any
    arch: str
    params: int
    metadata: dict[str, str] = field(default_factory=dict)
    caption: str = ""  # shown instead of the file's name (e.g. "before adaptation")

    @property
    def name(self) -> str:
        """Caption name: the file stem, or the run folder for a run's model.safetensors."""
        if self.caption:
            return self.caption
        if self._in_run_folder():
            return self.path.parent.name
        return self.path.stem

    def _in_run_folder(self) -> bool:
        """A run's own exported model (``RunFolder.model_path``): named after its run."""
        from noiseda_core.run_folder import RunFolder

        return bool(self.path.parent.name) and self.path == RunFolder(self.path.parent).model_path

    def summary(self) -> str:
        """One line: file · arch · parameters · extra facts from the metadata."""
        folder = self.path.parent.name if self._in_run_folder() else ""
        shown = f"{folder}/{self.path.name}" if folder else self.path.name
        if self.caption:
            shown = f"{self.caption}: {shown}"
        parts = [shown, self.arch, f"{format_params(self.params)} parameters"]
        mode = training_mode(self.metadata)
        if mode:
            parts.append(mode)
        if self.metadata.get("weights"):
            parts.append(f"{self.metadata['weights'].upper()} weights")
        if self.metadata.get("step"):
            parts.append(f"step {self.metadata['step']}")
        return " · ".join(parts)


def training_mode(metadata: dict[str, str]) -> str:
    """``train.mode`` from the training config stored in the metadata ('' when absent)."""
    text = metadata.get("training_config", "")
    if not text:
        return ""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        mode = tomllib.loads(text).get("train", {}).get("mode", "")
    except (tomllib.TOMLDecodeError, AttributeError):
        return ""
    return str(mode)


def format_params(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.2f} M"
    if count >= 1_000:
        return f"{count / 1e3:.1f} k"
    return str(count)


def pick_device() -> Any:
    """The core's choice: a CUDA GPU, else Apple's MPS, else the CPU."""
    from noiseda_core.device import resolve_device

    return resolve_device("auto")


def load_model(path: Path | str) -> LoadedModel:
    """Load a restorer from a model file or ``builtin:NAME`` (UserError for a wrong or
    damaged one)."""
    from noiseda_core.builtin import is_builtin, resolve_model
    from noiseda_core.export import load_restorer, read_metadata

    if is_builtin(str(path)):
        loaded = load_model(resolve_model(str(path), "built-in restorer"))
        loaded.caption = str(path).strip()
        return loaded
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file; choose a .safetensors model.")
    device = pick_device()
    model = load_restorer(path, device)
    model.eval()
    metadata = dict(read_metadata(path)) if path.suffix.lower() == ".safetensors" else {}
    params = sum(p.numel() for p in model.parameters())
    arch = str(getattr(model, "arch", metadata.get("arch", "unknown")))
    return LoadedModel(path, model, device, arch, params, metadata)


# ------------------------------------------------------------------ single image
@dataclass
class Source:
    """Where an image comes from: a file, or pixels (pasted / dropped image data)."""

    name: str
    path: Path | None = None
    pixels: np.ndarray | None = None  # (H, W, 3) uint8


@dataclass
class Restored:
    """The input and one output per model, as (H, W, 3) uint8 arrays."""

    source: Source
    input: np.ndarray
    outputs: list[np.ndarray]
    seconds: float
    tiled: bool
    names: list[str] = field(default_factory=list)  # the model behind each output


class Pairing(Enum):
    """What the compare view puts side by side when two models restored the image."""

    INPUT_A = "Input ↔ model A"
    INPUT_B = "Input ↔ model B"
    A_B = "Model A ↔ model B"
    B_A = "Model B ↔ model A"  # e.g. before adaptation (B) ↔ after adaptation (A)


def pick_pair(result: Restored, pairing: Pairing) -> tuple[np.ndarray, np.ndarray | None, str, str]:
    """(before, after, before label, after label) to show for ``result``.

    With one model the pairing is always input ↔ restored; with none, after is None.
    """
    outs, names = result.outputs, result.names
    if not outs:
        return result.input, None, "Input", ""
    if len(outs) == 1:
        return result.input, outs[0], "Input", f"Restored · {names[0]}"
    a, b = f"A: {names[0]}", f"B: {names[1]}"
    if pairing is Pairing.INPUT_B:
        return result.input, outs[1], "Input", b
    if pairing is Pairing.A_B:
        return outs[0], outs[1], a, b
    if pairing is Pairing.B_A:
        return outs[1], outs[0], b, a
    return result.input, outs[0], "Input", a


def read_source(source: Source) -> np.ndarray:
    """The image as (H, W, 3) uint8 (ImageReadError, a UserError, if unreadable)."""
    if source.pixels is not None:
        return source.pixels
    from noiseda_core.imageio import read_image

    assert source.path is not None
    return tensor_to_array(read_image(source.path))


def read_only(source: Source) -> Restored:
    """Just read ``source`` (no model loaded yet): a Restored with no outputs."""
    return Restored(source, read_source(source), [], 0.0, False)


def restore_source(source: Source, models: list[LoadedModel]) -> Restored:
    """Read ``source`` and restore it with each model in turn.

    ``policy.restore`` picks tiles for large images (and smaller ones when memory
    runs out), so the view never has to choose a tile size; ``tiled`` is the policy's
    decision for this image, as it stands after the restore.
    """
    import torch

    from noiseda_core import policy

    if source.pixels is not None:
        img = array_to_tensor(source.pixels)
    else:
        from noiseda_core.imageio import read_image

        assert source.path is not None
        img = read_image(source.path)
    start = time.perf_counter()
    outputs = []
    with torch.no_grad():
        for loaded in models:
            out = policy.restore(loaded.model, img, device=loaded.device)
            outputs.append(tensor_to_array(out))
    seconds = time.perf_counter() - start
    names = [m.name for m in models]
    size = (img.shape[1], img.shape[2])
    tiled = any(policy.tile_for(m.model, size, m.device) is not None for m in models)
    return Restored(source, tensor_to_array(img), outputs, seconds, tiled, names)


# ------------------------------------------------------------------------- batch
def collect_images(paths: list[Path]) -> tuple[list[Path], RestoreReport]:
    """The images in ``paths`` (folders searched) as ``noiseda restore`` collects them, and
    the core's ``RestoreReport`` of what it skipped (non-images) or could not open."""
    from noiseda_core.restore_files import RestoreReport, collect_inputs

    report = RestoreReport()
    images = [path for path, _ in collect_inputs([Path(p) for p in paths], report)]
    return images, report


def check_output_folder(inputs: list[Path], out_dir: Path) -> None:
    """Refuse an output folder where results could land on an input."""
    out = Path(out_dir).resolve()
    for path in inputs:
        if Path(path).resolve().parent == out:
            raise UserError(
                f"{out_dir}: this folder holds input images; choose another output folder "
                "so that no input is overwritten."
            )


def restore_batch(
    inputs: list[Path],
    out_dir: Path,
    loaded: LoadedModel,
    stop: threading.Event,
    *,
    progress: Callable[[int, int, str], None],
) -> Any:
    """Restore ``inputs`` into ``out_dir``; returns the core's RestoreReport."""
    from noiseda_core.restore_files import restore_paths

    check_output_folder(inputs, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return restore_paths(
        loaded.model,
        list(inputs),
        Path(out_dir),
        device=loaded.device,
        on_progress=lambda i, n, path: progress(i, n, Path(path).name),
        should_stop=stop.is_set,
    )


def save_array(array: np.ndarray, path: Path, protect: list[Path]) -> Path:
    """Write an (H, W, 3) uint8 image (PNG by suffix), never over a path in ``protect``."""
    from noiseda_core.imageio import write_image

    return write_image(array_to_tensor(array), Path(path), protect=protect)

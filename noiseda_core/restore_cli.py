"""``noiseda restore``: restore files and folders with an exported model, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import UserError


def run_restore(
    model: Path,
    inputs: list[Path],
    out: Path,
    tile: int | None,
    device: str,
    precision: str,
    overwrite: bool = False,
    pd: int = 1,
) -> int:
    """Exit 0 when every image was restored, 1 when some failed (each is named on stderr).

    Nothing restored is a ``UserError`` (exit 2); so are files already in ``out``
    (without ``overwrite``), a full disk and an unwritable ``out``.
    """
    from tqdm import tqdm

    from .device import resolve_device
    from .export import load_restorer
    from .restore_files import restore_paths

    torch_device = resolve_device(device)
    restorer = load_restorer(model, torch_device)
    bar = tqdm(total=0, unit="img", file=sys.stderr, disable=not sys.stderr.isatty())

    def on_progress(done: int, total: int, path: Path) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if not sys.stderr.isatty():
            print(f"[{done}/{total}] {path}", file=sys.stderr)

    try:
        report = restore_paths(
            restorer,
            inputs,
            out,
            tile=tile,
            device=torch_device,
            precision=precision,
            on_progress=on_progress,
            overwrite=overwrite,
            pd=pd,
        )
    finally:
        bar.close()
    for path in report.skipped:
        print(f"skipped (not an image): {path}", file=sys.stderr)
    for path, reason in report.failed:
        print(f"could not restore {path}: {reason}", file=sys.stderr)
    print(
        f"restored {len(report.written)} image(s) into {out}"
        + (f"; {len(report.failed)} failed" if report.failed else "")
    )
    if not report.written:
        raise UserError(
            "no image could be restored"
            + (
                f" ({len(report.failed)} unreadable, {len(report.skipped)} not images)"
                if report.failed or report.skipped
                else "; the inputs hold no images"
            )
        )
    return 1 if report.failed else 0

"""The run folder: config, event log, checkpoints, previews, exported model.

    RUN_DIR/config.toml         the resolved config (re-runnable as is)
    RUN_DIR/events.jsonl        one JSON event per line
    RUN_DIR/checkpoints/last.pt resume state (atomic)
    RUN_DIR/previews/           preview strips named by step
    RUN_DIR/model.safetensors   the exported EMA restorer
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import Config, save_config
from .errors import UserError
from .events import Event


class RunFolder:
    """Creates the layout and appends events; only rank 0 owns one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.previews = self.root / "previews"
        self.events_path = self.root / "events.jsonl"
        self.model_path = self.root / "model.safetensors"
        self.config_path = self.root / "config.toml"

    @classmethod
    def create(cls, root: Path, cfg: Config) -> RunFolder:
        """A new run: the folder must be new or empty (a finished run is never overwritten)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise UserError(f"run folder {root} exists and is not a folder; choose another --run-dir")
        if root.is_dir() and any(root.iterdir()):
            raise UserError(
                f"run folder {root} already holds files; continue it with "
                f"'noiseda train --resume {root}' or choose another --run-dir"
            )
        folder = cls(root)
        folder.previews.mkdir(parents=True, exist_ok=True)
        save_config(cfg, folder.config_path)
        return folder

    @classmethod
    def existing(cls, root: Path) -> RunFolder:
        folder = cls(root)
        if not folder.config_path.is_file():
            raise UserError(f"{root} is not a run folder (no config.toml inside)")
        folder.previews.mkdir(parents=True, exist_ok=True)
        return folder

    def append_event(self, event: Event) -> None:
        with open(self.events_path, "a", encoding="utf-8") as handle:
            handle.write(event.to_json() + "\n")

    def truncate_events(self, after_step: int) -> None:
        """Drop events past ``after_step`` (a killed run logged steps a resume will redo)."""
        if not self.events_path.is_file():
            return
        import json

        kept = [line for line in self.events_path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= after_step]
        from .atomic import atomic_write_bytes

        atomic_write_bytes(self.events_path, ("\n".join(kept) + "\n" if kept else "").encode())

    def preview_name(self, step: int, what: str) -> str:
        """Relative path of a preview image, e.g. ``previews/step_000500_real_0.png``."""
        return f"previews/step_{step:06d}_{what}.png"


def default_run_dir(config_path: Path | None) -> Path:
    """``runs/<config name>-<date-time>`` under the current folder."""
    stem = config_path.stem if config_path else "run"
    return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"

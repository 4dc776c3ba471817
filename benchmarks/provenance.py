"""Where a benchmark's numbers came from: commit, command, resolved config, versions.

    from provenance import collect, write_results
    meta = collect("benchmarks/domain_gap.py", sys.argv[1:], config=vars(args))
    write_results(out, meta, {"runs": runs}, markdown_table)

Every study writes ``OUT/results.json`` (``{"meta": ..., **data}``) and
``OUT/results.md`` (a header naming the command, commit, versions and date, then the
tables) through ``write_results``. Paths are written relative: the checkout becomes
``.``-relative, ``../shared/data`` stays that, a temporary folder becomes ``<tmp>`` and
the home folder ``<home>``, so no result names a machine's folders.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("commit", "dirty", "command", "config", "versions", "machine", "date")


def _git(*args: str) -> str:
    try:
        found = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
    except OSError:  # no git on the machine (a copied checkout on a GPU host)
        return ""
    return found.stdout.strip()


def versions() -> dict[str, str]:
    """Python and the libraries that decide the numbers (those installed)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "numpy", "spandrel", "noiseda-studio"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "torch" in sys.modules:  # the build actually imported (+cpu / +cu130)
        found["torch"] = sys.modules["torch"].__version__
    return found


def collect(script: str, argv: list[str], config: Any = None) -> dict[str, Any]:
    """The provenance of one call of ``script`` with ``argv``; ``config`` is what it
    resolved (arguments, a config's dict or TOML text), stored with relative paths."""
    commit = _git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    return {
        "commit": commit,
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "command": relative_paths(" ".join(["python", script, *argv])),
        "config": relative_paths(config),
        "versions": versions(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _replacements() -> list[tuple[str, str]]:
    """(absolute prefix, what it is written as), longest first."""
    pairs = {
        str(REPO): ".",
        str(REPO.parent): "..",
        str(Path(tempfile.gettempdir()).resolve()): "<tmp>",
        tempfile.gettempdir(): "<tmp>",
        str(Path.home()): "<home>",
    }
    return sorted(
        ((prefix, name) for prefix, name in pairs.items() if prefix not in ("", "/")),
        key=lambda pair: -len(pair[0]),
    )


def relative_paths(value: Any) -> Any:
    """``value`` (a string, or lists and dicts of them) with absolute paths under the
    checkout, its parent folder, the temporary folder or home written relatively."""
    if isinstance(value, str):
        for prefix, name in _replacements():
            # the prefix as a whole path component: followed by "/" or the path's end
            pattern = re.escape(prefix) + r"(?=/|$|[\s\"',;)\]}])"
            if name == ".":
                value = re.sub(pattern + "/", "", value)  # ./runs/x reads as runs/x
            value = re.sub(pattern, name, value)
        return value
    if isinstance(value, dict):
        return {key: relative_paths(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [relative_paths(item) for item in value]
    return value


def header(meta: dict[str, Any]) -> str:
    """The lines results.md opens with."""
    libs = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    dirty = " (with uncommitted changes)" if meta.get("dirty") else ""
    return (
        f"command: `{meta['command']}`\n"
        f"commit {meta['commit']}{dirty}; {libs}; {meta['machine']}; {meta['date']}\n"
        "resolved config: `meta.config` in results.json\n"
    )


def _write_text(path: Path, text: str) -> None:
    from noiseda_core.atomic import atomic_write  # the scripts put the checkout on sys.path

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def write_results(
    out: Path,
    meta: dict[str, Any],
    data: dict[str, Any],
    markdown: str | None = None,
    stem: str = "results",
) -> None:
    """``out/<stem>.json`` with ``meta`` and ``data``, and (given ``markdown``)
    ``out/<stem>.md`` opening with the provenance header; both atomic, paths relative."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    payload = relative_paths({"meta": meta, **data})
    _write_text(out / f"{stem}.json", json.dumps(payload, indent=1) + "\n")
    if markdown is not None:
        _write_text(out / f"{stem}.md", header(meta) + "\n" + relative_paths(markdown))

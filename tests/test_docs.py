"""The docs stay true: links and images resolve, every screenshot is shown, cited notes
are in the repository, and benchmark results say where they came from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").rglob("*.md")),
    *sorted((REPO / "benchmarks").glob("*.md")),
]
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](image)
MD_NAME = re.compile(r"[\w./-]*[\w-]\.md\b")
WRITTEN_BY_BENCHMARKS = {"results.md", "merged.md", "summary.md"}  # outputs, not citations
# a machine's own folders (examples such as /tmp/demo are fine in the docs, not in results)
MACHINE_PATH = re.compile(r"(?<![\w.<>~-])/(?:work|home|root|Users)/")
MACHINE_OR_TEMP_PATH = re.compile(r"(?<![\w.<>~-])/(?:work|home|root|Users|tmp)/")


def links(md: Path) -> list[tuple[bool, str]]:
    """(is an image, target) of every local link in ``md`` (web links and anchors left out)."""
    found = []
    for bang, target in LINK.findall(md.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        found.append((bang == "!", target.split("#")[0]))
    return found


def test_every_link_resolves_and_every_screenshot_is_shown_by_a_doc() -> None:
    readme = links(REPO / "README.md")  # a control: the finder sees images and links
    assert (True, "docs/screenshots/setup.png") in readme
    assert (False, "docs/deviations.md") in readme
    broken = [
        f"{md.relative_to(REPO)}: {target}"
        for md in DOCS
        for _, target in links(md)
        if not (md.parent / target).exists()
    ]
    assert broken == []
    shown = {(md.parent / target).resolve() for md in DOCS for image, target in links(md) if image}
    screenshots = sorted((REPO / "docs" / "screenshots").iterdir())
    assert screenshots, "docs/screenshots is empty"
    assert [p.name for p in screenshots if p.resolve() not in shown] == []


def _sources() -> list[Path]:
    code = [
        p
        for folder in ("noiseda_core", "app", "benchmarks", "scripts")
        for p in (REPO / folder).rglob("*")
        if p.suffix in (".py", ".sh", ".sbatch", ".md") and "domain_gap" not in p.parent.parts
    ]
    return sorted(set(DOCS + code))


def test_the_code_and_docs_cite_nothing_outside_the_repository() -> None:
    """``docs/design/noise-da.md``, ``cli.md``, ``../benchmarks/DOMAIN_GAP.md``: each
    resolves inside the checkout (from the root or from the citing file)."""
    in_repo = {p.name for p in DOCS}
    missing = []
    for source in _sources():
        for cited in MD_NAME.findall(source.read_text(encoding="utf-8")):
            name = Path(cited).name
            if name in WRITTEN_BY_BENCHMARKS:
                continue
            if "/" not in cited:
                found = name in in_repo
            else:
                places = [(REPO / cited).resolve(), (source.parent / cited).resolve()]
                found = any(p.is_file() and REPO in p.parents for p in places)
            if not found:
                missing.append(f"{source.relative_to(REPO)}: {cited}")
    assert missing == []
    assert (REPO / "docs" / "design" / "noise-da.md").is_file()
    named = [
        f"{md.relative_to(REPO)}: {hit}"
        for md in DOCS
        for hit in MACHINE_PATH.findall(md.read_text(encoding="utf-8"))
    ]
    assert named == []  # nor a folder of the machine it was written on


RESULT_FILES = sorted(
    p for p in (REPO / "benchmarks").rglob("*") if p.is_file() and "results." in p.name
)


def test_every_committed_result_records_its_provenance_with_relative_paths() -> None:
    from provenance import FIELDS

    assert any(p.name == "results.json" for p in RESULT_FILES)
    lacking = []
    for path in RESULT_FILES:
        text = path.read_text(encoding="utf-8")
        if MACHINE_OR_TEMP_PATH.search(text):
            lacking.append(f"{path.relative_to(REPO)}: an absolute path")
        if path.suffix == ".json":
            meta = json.loads(text).get("meta", {})
            absent = [field for field in FIELDS if field not in meta and field != "dirty"]
            if absent or not meta.get("commit"):
                lacking.append(f"{path.relative_to(REPO)}: no {absent or 'commit'}")
        elif "commit" not in text.split("\n\n")[0]:
            lacking.append(f"{path.relative_to(REPO)}: no commit in its header")
    assert lacking == []


def test_a_results_writer_records_commit_command_config_and_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import provenance

    monkeypatch.setattr(provenance.tempfile, "gettempdir", lambda: str(tmp_path))
    data_dir = provenance.REPO / "runs" / "datasets" / "phone"
    out = tmp_path / "study"
    meta = provenance.collect(
        "benchmarks/example.py",
        ["--cache", str(data_dir), "--out", str(out)],
        config={"data": {"real": str(data_dir / "real")}, "train": {"steps": 3}},
    )
    provenance.write_results(
        out,
        meta,
        {"runs": {"noise-da": {"0": {"overrides": [f"data.real={data_dir}/real"]}}}},
        f"| run | folder |\n| --- | --- |\n| noise-da | {out / 'runs'} |\n",
    )

    saved = json.loads((out / "results.json").read_text())
    assert set(provenance.FIELDS) <= set(saved["meta"])
    assert re.fullmatch(r"[0-9a-f]{40}|unknown.*", saved["meta"]["commit"])
    assert saved["meta"]["command"] == (
        "python benchmarks/example.py --cache runs/datasets/phone --out <tmp>/study"
    )
    assert saved["meta"]["config"]["data"]["real"] == "runs/datasets/phone/real"
    assert saved["meta"]["versions"]["torch"] and saved["meta"]["versions"]["python"]
    assert saved["runs"]["noise-da"]["0"]["overrides"] == ["data.real=runs/datasets/phone/real"]
    markdown = (out / "results.md").read_text()
    header = markdown.split("\n\n")[0]
    assert saved["meta"]["commit"] in header and "example.py" in header and "torch" in header
    for written in (out / "results.json", out / "results.md"):
        text = written.read_text()
        assert str(provenance.REPO) not in text and str(tmp_path) not in text, written


def test_relative_paths_leave_lookalike_folders_alone() -> None:
    from provenance import REPO as repo
    from provenance import relative_paths

    assert relative_paths(f"{repo}/runs") == "runs"
    assert relative_paths(str(repo)) == "."
    lookalike = relative_paths(f"{repo}-other/runs")  # another folder, not the checkout
    assert lookalike.endswith(f"{repo.name}-other/runs") and not lookalike.startswith("-")
    assert relative_paths({"n": 3, "xs": [f"--out={repo}/a"]}) == {"n": 3, "xs": ["--out=a"]}

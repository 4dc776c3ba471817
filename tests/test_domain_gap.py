"""The domain-gap benchmark's gate, crops and table (no training: fake results)."""

from __future__ import annotations

import json
from pathlib import Path

from domain_gap import ORACLE, gate_lines
from domain_gap_data import _crop_grid
from domain_gap_report import curve_table, full_report, start_delta_table, summarise


def _run(*psnrs: float, diagnostics: list[dict] | None = None) -> dict:
    curve = [
        {"step": 10 * (i + 1), "psnr": p, "ssim": 0.5, "psnr_input": 22.0}
        for i, p in enumerate(psnrs)
    ]
    return {
        "curve": curve,
        "diagnostics": diagnostics or [],
        "seconds": 60.0,
        "start": {"psnr": 24.5},
    }


def test_gate_needs_five_db_of_the_oracle_over_the_baseline() -> None:
    results = {
        "baseline": {"0": _run(25.0), "1": _run(25.2)},
        ORACLE: {"0": _run(30.1), "1": _run(30.3)},
    }
    met, text = gate_lines(results)
    assert met and "+5.10 dB" in text and "MET" in text
    results[ORACLE]["1"] = _run(29.0)
    met, text = gate_lines(results)
    assert met is False and "NOT MET" in text
    assert gate_lines({"baseline": {"0": _run(25.0)}})[0] is None


def test_crop_grid_spreads_crops_inside_the_image() -> None:
    corners = _crop_grid(512, 768, 6, 96)
    assert len(corners) == 6 and len(set(corners)) == 6
    assert all(0 <= t <= 512 - 96 and 0 <= x <= 768 - 96 for t, x in corners)


def test_table_pairs_each_variant_with_the_baseline_of_its_seed() -> None:
    diag = [
        {"hinge_active": 1.0, "grad_res": 2.0, "grad_dif": 0.2, "noise_real_restored": 3.0},
        {"hinge_active": 0.5, "grad_res": 1.0, "grad_dif": 0.1, "noise_real_restored": 2.0},
    ]
    results = {
        "baseline": {"0": _run(24.0, 25.0), "1": _run(24.0, 26.0)},
        "noise-da": {"0": _run(24.0, 25.5, diagnostics=diag), "1": _run(24.0, 27.0)},
    }
    results["noise-da"]["0"]["real_cosine"] = [
        {"step": 10, "real_cosine": 0.9},
        {"step": 20, "real_cosine": -0.4},
    ]
    row = next(line for line in summarise(results).splitlines() if line.startswith("| noise-da"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "26.25 ± 1.06" and cells[4] == "+0.75 ± 0.35"
    assert cells[5] == "+1.75 ± 1.06"  # vs the starting restorer (24.5 dB)
    assert cells[7] == "0.50" and cells[8] == "-0.400" and cells[9] == "2.00"  # second half
    assert "| noise-da | +0.900 | -0.400 |" in full_report(results)  # the cosine per step


def test_every_study_option_is_a_config_the_trainer_accepts() -> None:
    """A misspelt key would only fail an hour into a study (``real-x2`` once did)."""
    from domain_gap import PRESETS, STUDIES, resolve_fractions

    from noiseda_core.config import Config, apply_overrides

    for study in STUDIES.values():
        for name, overrides in study.items():
            cfg = apply_overrides(Config(), PRESETS["cpu"] + resolve_fractions(overrides, 300))
            assert cfg.train.steps > 0, name
    pretrain = resolve_fractions(["train.denoiser_pretrain_steps=0.2"], 300)
    assert pretrain == ["train.denoiser_pretrain_steps=60"]


def test_curve_table_averages_each_step_over_the_seeds_that_reached_it() -> None:
    results = {
        "baseline": {"0": _run(24.0, 25.0), "1": _run(26.0)},
        "noise-da": {"0": _run(24.0, 25.5), "1": _run(25.0, 26.5)},
    }
    lines = curve_table(results).splitlines()
    assert lines[0] == "| variant | step 10 | step 20 |"
    assert lines[2] == "| baseline (2) | 25.00 ± 1.41 | — |"  # seed 1 stopped at step 10
    assert lines[3] == "| noise-da (2) | 24.50 ± 0.71 | 26.00 ± 0.71 |"


def test_a_study_called_again_keeps_only_runs_with_the_same_overrides(tmp_path: Path) -> None:
    from domain_gap import finished_runs, pending

    earlier = {
        "noise-da": {
            "0": {**_run(25.0), "overrides": ["a"]},
            "1": {**_run(25.1), "overrides": ["a", "other-lambda"]},
        }
    }
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    jobs = [("noise-da", 0, ["a"]), ("noise-da", 1, ["a"]), ("baseline", 0, ["b"])]
    results: dict = {}
    todo = pending(jobs, results, finished_runs(tmp_path))
    assert todo == [("noise-da", 1, ["a"]), ("baseline", 0, ["b"])]  # seed 1 changed: rerun
    assert results == {"noise-da": {"0": earlier["noise-da"]["0"]}}
    assert pending(jobs, results, {}) == todo  # what results holds is never run twice
    (tmp_path / "results.json").write_text("{cut short")
    assert finished_runs(tmp_path) == {} and finished_runs(tmp_path / "none") == {}


def test_start_delta_table_gives_each_seed_and_whether_any_fell_below_the_start() -> None:
    start = {"psnr": 24.5, "psnr_pd2": 24.0}
    results = {
        "reference": {"0": {**_run(24.0, 25.0), "start": start}, "1": _run(24.5, 25.5)},
        "option": {"0": _run(25.0, 24.4), "1": _run(25.5, 26.5)},
    }
    rows = {r.split("|")[1].strip(): r for r in start_delta_table(results).splitlines()}
    assert "+0.75 ± 0.35 (+0.50, +1.00)" in rows["reference"]
    assert rows["reference"].rstrip(" |").endswith("yes")
    assert "+0.95 ± 1.48 (-0.10, +2.00)" in rows["option"]
    assert rows["option"].rstrip(" |").endswith("no")  # seed 0 ended below its start
    assert "-0.50" in rows["start + PD 2 (inference)"]

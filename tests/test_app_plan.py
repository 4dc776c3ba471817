"""The app preselects exactly the plan ``noiseda devices --json`` prints, machine by machine."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from app_helpers import isolate_settings

from noiseda_core.cli import main

GIB = 2**30


def _fake_machine(monkeypatch: pytest.MonkeyPatch, kind: str, gib: float) -> None:
    """``resolve_device("auto")``, the CUDA properties and 16 CPU cores of a machine this test
    does not have."""
    monkeypatch.setattr("noiseda_core.device.resolve_device", lambda name: torch.device(kind))
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    if kind == "cuda":
        props = SimpleNamespace(name=f"Fake GPU {gib:g} GB", total_memory=int(gib * 1e9), major=9)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize(("kind", "gib"), [("cpu", 0.0), ("cuda", 24.0), ("cuda", 140.0)])
def test_the_gui_starts_with_the_plan_of_noiseda_devices(
    qtbot, tmp_path, monkeypatch, capsys, kind: str, gib: float
) -> None:
    _fake_machine(monkeypatch, kind, gib)
    assert main(["devices", "--json"]) == 0
    printed = capsys.readouterr().out
    plan = json.loads(printed)["plan"]
    assert plan["workers"] == (4 if kind == "cuda" else 0)  # a GPU is fed by data workers
    assert plan["precision"] == ("bf16" if kind == "cuda" else "fp32")

    isolate_settings(tmp_path)
    from app.views.setup_view import SetupView
    from app.widgets.device_info import parse_devices

    view = SetupView()
    qtbot.addWidget(view)
    view.options.start_from.set_value("")  # from scratch: the plan's restorer is offered
    view.device_label._done(parse_devices(printed))  # the query's answer, as the app gets it
    cfg = view.current_config()
    gui = {
        "restorer": cfg.model.restorer,
        "denoiser": cfg.model.diffusion,
        "patch": cfg.train.patch,
        "batch": cfg.train.batch,
        "steps": cfg.train.steps,
        "workers": cfg.data.workers,
    }
    assert gui == {key: plan[key] for key in gui}
    # what the GUI would start is planned exactly as the CLI planned it
    from noiseda_core.device_report import DeviceReport
    from noiseda_core.policy import plan as plan_for

    machine = DeviceReport(**{k: v for k, v in json.loads(printed).items() if k != "plan"})
    again = plan_for(cfg, machine.machine()).to_dict()
    for key in ("restorer", "denoiser", "patch", "batch", "steps", "workers", "precision"):
        assert again[key] == plan[key], key
    assert plan["precision"] in view.device_label.toolTip()

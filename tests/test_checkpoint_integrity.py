"""Resume states: a flipped byte, a hand-edited file and a killed write are all caught."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from noiseda_core.checkpoint import (
    MAGIC,
    checkpoint_path,
    export_run,
    load_resume_state,
    save_resume_state,
)
from noiseda_core.config import Config, config_to_dict
from noiseda_core.errors import UserError


def _state(**changes) -> dict:
    state = {
        "step": 3,
        "config": config_to_dict(Config()),
        "objective": {"w": torch.ones(4)},
        "optimizer": {},
        "ema": {"shadow": {}},
        "restorer": {},
        "data": {},
        "rng": {},
    }
    state.update(changes)
    return state


def test_a_state_round_trips_and_carries_a_checksum(tmp_path: Path) -> None:
    save_resume_state(tmp_path, _state())
    assert checkpoint_path(tmp_path).read_bytes().startswith(MAGIC)
    state = load_resume_state(tmp_path)
    assert state["step"] == 3 and torch.equal(state["objective"]["w"], torch.ones(4))


def test_one_flipped_byte_is_refused(tmp_path: Path) -> None:
    save_resume_state(tmp_path, _state(objective={"w": torch.ones(1000)}))
    path = checkpoint_path(tmp_path)
    data = bytearray(path.read_bytes())
    data[-600] ^= 0x01  # inside the tensor data: torch alone would load it silently
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged.*checksum"):
        load_resume_state(tmp_path)


def test_an_older_state_without_checksum_still_loads(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"format": 1, **_state()}, buffer)
    checkpoint_path(tmp_path).parent.mkdir(parents=True)
    checkpoint_path(tmp_path).write_bytes(buffer.getvalue())
    assert load_resume_state(tmp_path)["step"] == 3


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"step": 2.5}, "not a whole number"),
        ({"step": "12"}, "not a whole number"),
        ({"objective": None}, None),
    ],
)
def test_hand_edited_states_get_one_clear_message(
    tmp_path: Path, changes: dict, needle: str | None
) -> None:
    state = _state(**changes)
    if needle is None:
        del state["objective"]
        needle = "lacks objective"
    save_resume_state(tmp_path, state)
    with pytest.raises(UserError, match=needle):
        load_resume_state(tmp_path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_resume_state(tmp_path / "nope")


def test_export_refuses_weights_of_another_architecture(tmp_path: Path) -> None:
    from noiseda_core.nets import build_restorer

    cfg = config_to_dict(Config())
    cfg["model"]["restorer"] = "unet-tiny"
    other = build_restorer("dncnn", nc=8, nb=3).state_dict()
    save_resume_state(tmp_path, _state(config=cfg, restorer=other, ema={"shadow": other}))
    (tmp_path / "config.toml").write_text("")
    with pytest.raises(UserError, match="do not fit unet-tiny"):
        export_run(tmp_path, tmp_path / "out.safetensors")

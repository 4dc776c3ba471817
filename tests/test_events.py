"""Events survive the JSON line that carries them to the GUI and to events.jsonl."""

from __future__ import annotations

import math

from noiseda_core.events import Diagnostics, Progress, Started, Validation, event_from_json


def test_every_new_field_round_trips_through_json() -> None:
    events = [
        Started(step=0, total_steps=10, init_restorer="builtin:unet-t"),
        Validation(
            step=5, psnr=30.5, ssim=0.9, psnr_input=22.0, count=3, psnr_start=27.25, ssim_start=0.8
        ),
        Diagnostics(
            step=5,
            hinge_active=0.25,
            mse_pos=0.01,
            mse_neg=0.02,
            grad_res=1.5,
            grad_dif=0.1,
            noise_real_input=18.0,
            noise_real_restored=4.0,
        ),
        Progress(step=5, total_steps=10, loss_res=0.1, lam=0.2),
    ]
    for event in events:
        assert event_from_json(event.to_json()) == event


def test_missing_optional_fields_stay_none_and_nan_survives() -> None:
    back = event_from_json('{"type": "diagnostics", "step": 3, "mse_pos": NaN}')
    assert isinstance(back, Diagnostics) and back.step == 3
    assert back.hinge_active is None and math.isnan(back.mse_pos)
    assert event_from_json('{"type": "validation", "step": 1, "psnr": 20}').psnr_start is None

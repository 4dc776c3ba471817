"""The training page's three numbers, and what they say when adaptation lost ground."""

from __future__ import annotations

from noiseda_core.events import Validation


def test_the_score_line_names_input_start_and_adapted() -> None:
    from app.widgets.score_line import score_text

    text = score_text(
        Validation(step=600, psnr=24.70, psnr_input=22.67, count=66, psnr_start=24.58)
    )
    assert "22.67 dB" in text and "24.58 dB" in text and "24.70 dB" in text and "+0.12 dB" in text
    assert "still better" not in text and "66 real validation pairs" in text


def test_the_score_line_says_when_the_starting_model_is_still_better() -> None:
    from app.widgets.score_line import score_text

    text = score_text(
        Validation(step=600, psnr=24.19, psnr_input=22.67, count=66, psnr_start=24.58)
    )
    assert "-0.39 dB" in text and "the starting model is still better" in text
    assert "adapted: after the first validation" in score_text(
        Validation(step=0, psnr=24.58, psnr_input=22.67, count=66, psnr_start=24.58)
    )


def test_the_score_line_shows_the_strength_a_trial_chose_under_the_score(qtbot) -> None:
    from app.widgets.score_line import ScoreLine
    from noiseda_core.events import StrengthChosen

    line = ScoreLine()
    qtbot.addWidget(line)
    line.add_validation(Validation(step=60, psnr=28.4, count=16, psnr_start=27.9, source="proxy"))
    line.add_strength(
        StrengthChosen(
            step=60,
            lambda_weight=0.2,
            candidates=[0.2, 2.0],
            scores=[28.4, 27.1],
            start_psnr=27.9,
            source="proxy",
            trial_steps=30,
        )
    )
    text = line.text()
    assert "28.40 dB" in text.split("<br>")[0]  # the score line stays first
    assert "Strength</b>: λ 0.2 chosen after 30 steps of each on the proxy pairs" in text
    assert "λ 2: 27.10 dB" in text and "the start: 27.90 dB" in text
    line.clear()
    assert not line.isVisible() and line.text() == ""


def test_the_detail_check_line_follows_proxy_scores_and_warns_before_refusing(qtbot) -> None:
    from app.widgets.score_line import ScoreLine
    from noiseda_core.events import Finished

    line = ScoreLine()
    qtbot.addWidget(line)
    proxy = dict(count=16, psnr_start=27.9, source="proxy")
    line.add_validation(Validation(step=0, psnr=27.9, real_structure=-0.04, **proxy))
    assert "Detail check</b> on your real photos: the start -0.04" in line.text()
    line.add_validation(Validation(step=200, psnr=28.3, real_structure=0.05, **proxy))
    assert "+0.05 (the start -0.04): detail kept" in line.text()
    line.add_validation(Validation(step=400, psnr=28.9, real_structure=0.6, **proxy))
    assert "wipe detail off your photos, so they are not kept" in line.text()
    line.add_finished(
        Finished(
            step=400,
            kept="best",
            kept_step=200,
            kept_psnr=28.3,
            kept_refused=1,
            kept_source="proxy",
            start_psnr=27.9,
        )
    )
    assert "Kept: the weights of step 200" in line.text()
    assert "1 validation scored higher on the proxy pairs" in line.text()
    line.add_validation(Validation(step=200, psnr=30.0, count=8))  # validation pairs: no check
    assert "Detail check" not in line.text()

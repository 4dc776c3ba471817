"""Plots people can read: axis titles, a validation axis that keeps tiny changes flat,
reference lines, and the Diagnostics charts."""

from __future__ import annotations

from noiseda_core.events import Diagnostics, Progress, Validation


def make_plot(qtbot):
    from app.widgets.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 500)
    plot.show()
    return plot


def test_validation_axis_reference_lines_and_titles(qtbot):
    plot = make_plot(qtbot)
    for step, psnr in ((100, 30.0000), (200, 30.0010), (300, 30.0015)):
        plot.add_validation(Validation(step=step, psnr=psnr, psnr_input=29.6, count=2))
    plot.flush()
    lo, hi = plot.psnr_plot.y_range()
    assert hi - lo >= 1.0  # 0.0015 dB stays a flat line
    assert lo <= 29.6 <= hi  # the noisy-input line is in view
    assert plot.psnr_plot.reference_value("input") == 29.6
    assert plot.psnr_plot.reference_value("start") is None  # trained from scratch: no such line
    assert (
        "noisy input" in plot.psnr_plot.header.text()
        and "starting model" not in plot.psnr_plot.header.text()
    )
    plot.add_validation(Validation(step=400, psnr=31.0, psnr_input=29.6, psnr_start=30.5, count=2))
    plot.flush()
    assert (
        plot.psnr_plot.reference_value("start") == 30.5
        and "starting model" in plot.psnr_plot.header.text()
    )
    assert plot.psnr_plot.item.getAxis("left").labelText == "PSNR (dB)"
    assert plot.psnr_plot.item.getAxis("bottom").labelText == "step"
    assert plot.loss_plot.item.getAxis("left").labelText.startswith("loss")
    assert "restoration" in plot.loss_plot.header.text()  # the legend sits above, off the curves


def test_a_single_validation_point_has_a_readable_axis(qtbot):
    plot = make_plot(qtbot)
    plot.add_validation(Validation(step=500, psnr=100.0, count=1))
    plot.flush()
    lo, hi = plot.psnr_plot.y_range()
    assert 0.9 <= hi - lo <= 5 and lo < 100 < hi
    (x0, x1), _ = plot.psnr_plot.item.viewRange()
    assert x0 <= 0 and x1 >= 500


def test_diagnostics_tab_draws_what_is_present(qtbot):
    plot = make_plot(qtbot)
    assert not plot.diag_hint.isHidden()
    for step in range(1, 11):
        plot.add_progress(Progress(step=step, loss_res=0.1, loss_dif=0.2, lam=0.01))
        plot.add_diagnostics(
            Diagnostics(
                step=step,
                noise_real_input=12.0,
                noise_real_restored=12.0 - step,
                hinge_active=0.5,
                grad_res=0.3,
            )
        )  # mse_* and grad_dif absent
    plot.flush()
    assert plot.diag_hint.isHidden()
    xs, ys = plot.diag_plots["noise"].curves["noise_real_restored"].getData()
    assert list(xs) == list(range(1, 11)) and ys[-1] == 2.0
    assert (
        plot.diag_plots["mse"].curves["mse_pos"].getData()[0] is None
        or len(plot.diag_plots["mse"].curves["mse_pos"].getData()[0]) == 0
    )
    for chart in plot.diag_plots.values():
        tip = chart.toolTip()
        assert len(tip) > 40 and "_" not in tip
    assert "should go down" in plot.diag_plots["noise"].toolTip()


def test_the_proxy_score_is_the_users_diagnostic(qtbot):
    plot = make_plot(qtbot)
    assert "grad" not in plot.diag_plots  # the gradient share said nothing (issue 18)
    plot.add_validation(Validation(step=5, psnr=30.0, ssim=0.8, psnr_input=22.0))
    for step, psnr in ((5, 28.0), (10, 28.5)):
        plot.add_validation(
            Validation(step=step, psnr=psnr, ssim=0.8, psnr_input=22.0, source="proxy")
        )
    plot.flush()
    xs, ys = plot.diag_plots["proxy"].curves["proxy_psnr"].getData()
    assert list(xs) == [5, 10] and list(ys) == [28.0, 28.5]  # the user's pairs are not in it
    assert plot.diag_hint.isHidden()


def test_a_run_with_validation_pairs_charts_their_scores_only(qtbot):
    """With real pairs and proxy pairs both scored (``keep_best = proxy`` beside a
    validation folder), the validation chart shows one source: the real pairs'."""
    plot = make_plot(qtbot)
    plot.add_validation(Validation(step=0, psnr=35.9, ssim=0.9, psnr_input=40.4, source="proxy"))
    plot.add_validation(Validation(step=0, psnr=37.9, ssim=0.9, psnr_input=37.2, psnr_start=37.9))
    plot.add_validation(Validation(step=50, psnr=40.2, ssim=0.9, psnr_input=40.4, source="proxy"))
    plot.add_validation(Validation(step=50, psnr=37.3, ssim=0.9, psnr_input=37.2))
    plot.flush()
    xs, ys = plot.psnr_plot.curves["psnr"].getData()
    assert list(xs) == [0, 50] and list(ys) == [37.9, 37.3]
    xs, ys = plot.diag_plots["proxy"].curves["proxy_psnr"].getData()
    assert list(ys) == [35.9, 40.2]  # the proxy stays a diagnostic
    proxy_only = make_plot(qtbot)
    proxy_only.add_validation(Validation(step=0, psnr=35.9, ssim=0.9, source="proxy"))
    proxy_only.add_validation(Validation(step=50, psnr=40.2, ssim=0.9, source="proxy"))
    proxy_only.flush()
    assert list(proxy_only.psnr_plot.curves["psnr"].getData()[1]) == [35.9, 40.2]

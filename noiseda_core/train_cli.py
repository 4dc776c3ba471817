"""``noiseda train``: run the loop, show its events (a bar on a terminal, lines otherwise).

With ``--jsonl`` stdout carries only event JSON lines (the GUI's worker reads them);
human-readable logs go to stderr. Exit status: 0 finished or stopped, 1 failed,
2 user error.

When the process that reads our output goes away (the app was killed: stdin ends,
stdout or stderr breaks) the run stops as after Ctrl-C: it finishes the step, keeps a
checkpoint, exports the model and logs ``finished`` (stopped) in ``events.jsonl``.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .config import Config, load_config
from .control import RunControl
from .events import (
    Event,
    Failed,
    Finished,
    Progress,
    Resized,
    Started,
    StrengthChosen,
    Validation,
)
from .run_folder import RunFolder, default_run_dir


def _describe(event: Event) -> str | None:
    """One human line per event worth a line (progress goes to the bar on terminals)."""
    if isinstance(event, Started):
        verb = "resuming" if event.resumed else "training"
        line = (
            f"{verb} {event.mode} on {event.device} ({event.precision}), "
            f"{event.world_size} process(es), global batch {event.global_batch}, lr {event.lr:g}; "
            f"restorer {event.restorer_params / 1e6:.2f} M params, "
            f"denoiser {event.denoiser_params / 1e6:.2f} M; run folder {event.run_dir}"
        )
        if event.init_denoiser:
            line += f"\nthe denoiser starts from {event.init_denoiser}"
        if event.skipped_files:
            line += "\nskipped files:\n  " + "\n  ".join(event.skipped_files)
        for note in event.notes:
            line += f"\nnote: {note}"
        return line
    if isinstance(event, Progress):
        dif = f" dif {event.loss_dif:.4f}" if event.loss_dif is not None else ""
        of = f"/{event.total_steps}" if event.total_steps else " (timing the first steps)"
        return (
            f"step {event.step}{of} res {event.loss_res:.4f}{dif} "
            f"λ {event.lam:.4f} {event.images_per_s:.1f} img/s eta {event.eta_s:.0f}s"
        )
    if isinstance(event, Resized):
        if event.out_of_time:
            planned = f", before the {event.planned_steps} planned steps" * bool(
                event.planned_steps
            )
            return f"step {event.step}: the time budget's deadline ends the run here{planned}"
        return (
            f"step {event.step}: sized to the time budget: {event.steps} steps (validation "
            f"every {event.val_every}, checkpoint every {event.checkpoint_every})"
        )
    if isinstance(event, Validation):
        if event.step == 0 and event.psnr_start is not None:
            return (
                f"starting model on the validation pairs: PSNR {event.psnr:.2f} dB SSIM "
                f"{event.ssim:.4f} (noisy input {event.psnr_input:.2f} dB)"
            )
        where = "proxy" if event.source == "proxy" else "validation"
        line = f"step {event.step} {where}: PSNR {event.psnr:.2f} dB SSIM {event.ssim:.4f}"
        if event.real_structure is not None:
            line += f"; detail in the real photos' residual {event.real_structure:+.2f}"
        return line
    if isinstance(event, StrengthChosen):
        return f"step {event.step}: {event.describe()}"
    if isinstance(event, Finished):
        return _describe_end(event)
    if isinstance(event, Failed):
        return f"failed at step {event.step}: {event.message}"
    return None


def _describe_end(event: Finished) -> str:
    """How the run ended, what it kept, and how to go on when the deadline cut it short."""
    word = "stopped" if event.stopped else "finished"
    line = f"{word} at step {event.step} after {event.elapsed_s:.0f}s; model: {event.model}"
    if event.kept in ("best", "start"):
        from .keep_best import Kept  # imports torch: only once a run has ended

        kept = Kept(
            event.kept,
            event.kept_step,
            event.kept_psnr,
            event.start_psnr,
            event.kept_source,
            event.kept_refused,
        )
        line += f"\nkept: {kept.describe()}"
    elif event.kept_psnr is not None:
        line += f" (validation PSNR {event.kept_psnr:.2f} dB)"
    if event.out_of_time:
        planned = f" of the {event.planned_steps} planned" if event.planned_steps else ""
        run = Path(event.model).parent if event.model else Path("RUN_DIR")
        more = event.planned_steps or event.step * 2
        line += (
            f"\nthe time ran out at step {event.step}{planned}: the machine slowed down. "
            f"Continue with: noiseda train --resume {run} --set train.steps={more}"
        )
    return line


def _rank() -> int:
    """This process's rank under torchrun (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


class _SafeStream:
    """A text stream that survives its reader going away (a broken pipe, a closed terminal).

    The first failed write calls ``on_broken`` and points the file descriptor at
    /dev/null, so later writes, and the flush at exit, go nowhere quietly.
    """

    def __init__(self, stream: TextIO, on_broken: Callable[[], None]) -> None:
        self._stream = stream
        self._on_broken = on_broken
        self.broken = False

    def _fail(self) -> None:
        if not self.broken:
            self.broken = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
                os.close(devnull)
            except (OSError, ValueError, AttributeError):
                pass
            self._on_broken()

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (errno.EPIPE, errno.EIO, None):
                raise
            self._fail()
            return len(text)

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._fail()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _Display:
    """Writes events where they belong: JSON lines, a tqdm bar, or plain lines."""

    def __init__(self, jsonl: bool) -> None:
        self.jsonl = jsonl
        self.bar = None
        self.tty = sys.stderr.isatty() and not jsonl
        self.quiet = _rank() != 0  # under torchrun only rank 0 talks

    def say(self, text: str) -> None:
        """A line for the person at the terminal, above the bar when there is one."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def show(self, event: Event) -> None:
        if self.quiet:
            return
        if self.jsonl:
            sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
        if isinstance(event, Started) and self.tty:
            self._open_bar(event.total_steps, event.step)
        if isinstance(event, Progress) and self.tty:
            self._bar(event)
            return
        line = _describe(event)
        if line is None:
            return
        stream = sys.stderr if self.jsonl else sys.stdout
        if self.bar is not None:
            self.bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def _open_bar(self, total: int, initial: int) -> None:
        """The bar shows from the start; it is cleared when the run ends (the last line
        says how it ended), so no stale bar stays on the terminal."""
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total or None,
                initial=initial,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                leave=False,
            )

    def _bar(self, event: Progress) -> None:
        self._open_bar(event.total_steps, event.step)
        bar = self.bar
        assert bar is not None  # _open_bar made it
        if event.total_steps and bar.total != event.total_steps:  # a budget sized the run
            bar.total = event.total_steps
        bar.update(event.step - bar.n)
        post = {"res": f"{event.loss_res:.4f}", "img/s": f"{event.images_per_s:.1f}"}
        if event.loss_dif is not None:
            post["dif"] = f"{event.loss_dif:.4f}"
        bar.set_postfix(post, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_training(
    config: Path | None,
    overrides: list[str],
    run_dir: Path | None,
    resume: Path | None,
    jsonl: bool,
    control_stdin: bool,
) -> int:
    from .errors import UserError

    if resume is None and config is None:
        raise UserError("give a CONFIG.toml to train, or --resume RUN_DIR to continue a run")
    if resume is not None:
        from .resume_config import check_resume_overrides

        check_resume_overrides(overrides)
    cfg = load_config(config, overrides) if resume is None and config is not None else None
    target = resume if resume is not None else (run_dir or default_run_dir(config))

    control = RunControl()

    def parent_gone() -> None:
        control.parent_gone = True
        control.request_stop("parent gone")

    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (
        _SafeStream(sys.stdout, parent_gone),
        _SafeStream(sys.stderr, parent_gone),
    )
    display = _Display(jsonl)
    control.install_sigint(say=display.say)
    if control_stdin and _rank() == 0:
        # Under torchrun every rank inherits the same stdin: a line read by another rank
        # (a "resume" after rank 0 took the "pause") would leave the ranks disagreeing.
        control.listen_stdin()
    if cfg is not None and _rank() == 0:
        from .cpu_advice import cpu_advice

        advice = cpu_advice(cfg)
        if advice:
            print(f"warning: {advice}", file=sys.stderr, flush=True)
    try:
        return _run(
            cfg, target, resume, control, display, overrides if resume else [], in_app=control_stdin
        )
    finally:
        control.restore_signals()
        display.close()
        sys.stdout, sys.stderr = streams


def _run(
    cfg: Config | None,
    target: Path,
    resume: Path | None,
    control: RunControl,
    display: _Display,
    overrides: list[str],
    in_app: bool = False,
) -> int:
    from .errors import UserError
    from .train import train

    last: Event | None = None
    validation: Validation | None = None
    try:
        for event in train(
            cfg, target, resume=resume is not None, control=control, overrides=overrides
        ):
            display.show(event)
            last = event
            if isinstance(event, Validation):
                validation = event
    except UserError:
        raise
    except Exception as exc:
        failed = Failed(
            step=getattr(last, "step", 0),
            message=f"{exc.__class__.__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        folder = RunFolder(target)
        if folder.root.is_dir():
            folder.append_event(failed)
        display.show(failed)
        traceback.print_exc()
        return 1
    display.close()  # the bar goes before the summary lines
    if isinstance(last, Finished) and validation is not None and not display.quiet:
        print(
            summary(validation, in_app=in_app, kept=last.kept),
            file=sys.stderr if display.jsonl else sys.stdout,
            flush=True,
        )
    return 1 if isinstance(last, Failed) else 0


LOSS_NOTICE_DB = 0.05  # below this loss the summary says so


def summary(v: Validation, in_app: bool = False, kept: str = "") -> str:
    """The three numbers a run ends with: noisy input, starting model, adapted model.
    ``in_app``: the app shows it (its advice names the app's button, not a flag);
    ``kept``: the Finished event's ``kept`` ("start": the export is the starting model)."""

    def pair(psnr: float | None, ssim: float | None) -> str:
        if psnr is None:
            return "—"
        return f"{psnr:6.2f} dB  SSIM {ssim:.4f}" if ssim is not None else f"{psnr:6.2f} dB"

    start = (
        pair(v.psnr_start, v.ssim_start) if v.psnr_start is not None else "— (trained from scratch)"
    )
    pairs = (
        f"{v.count} proxy pair(s) (held-out clean photos with your photos' noise)"
        if v.source == "proxy"
        else f"{v.count} real validation pair(s)"
    )
    lines = [
        f"On the {pairs} (step {v.step}):",
        f"  noisy input     {pair(v.psnr_input, v.ssim_input)}",
        f"  starting model  {start}",
        f"  adapted model   {pair(v.psnr, v.ssim)}",
    ]
    if kept == "start":
        lines.append("  exported: the starting model, unchanged (see kept: above)")
    elif v.psnr_start is not None:
        gain = v.psnr - v.psnr_start
        lines.append(f"  adaptation: {gain:+.2f} dB over the starting model")
        if gain < -LOSS_NOTICE_DB:  # short CPU runs do this (benchmarks/DOMAIN_GAP.md)
            longer = (
                "Train longer"
                if in_app
                else "train longer (--minutes, or --resume RUN --set train.steps=N)"
            )
            lines.append(
                "  the starting model scores higher on these pairs: keep using it, "
                f"or {longer} and compare again"
            )
    return "\n".join(lines)

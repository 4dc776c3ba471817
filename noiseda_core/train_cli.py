"""``noiseda train``: run the loop, show its events (a bar on a terminal, lines otherwise).

With ``--jsonl`` stdout carries only event JSON lines (the GUI's worker reads them);
human-readable logs go to stderr. Exit status: 0 finished or stopped, 1 failed,
2 user error.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from .config import load_config
from .control import RunControl
from .events import Event, Failed, Finished, Progress, Started, Validation
from .run_folder import RunFolder, default_run_dir


def _describe(event: Event) -> str | None:
    """One human line per event worth a line (progress goes to the bar on terminals)."""
    if isinstance(event, Started):
        verb = "resuming" if event.resumed else "training"
        line = (f"{verb} {event.mode} on {event.device} ({event.precision}), "
                f"{event.world_size} process(es), global batch {event.global_batch}, lr {event.lr:g}; "
                f"restorer {event.restorer_params / 1e6:.2f} M params, "
                f"denoiser {event.denoiser_params / 1e6:.2f} M; run folder {event.run_dir}")
        if event.skipped_files:
            line += "\nskipped files:\n  " + "\n  ".join(event.skipped_files)
        return line
    if isinstance(event, Progress):
        dif = f" dif {event.loss_dif:.4f}" if event.loss_dif is not None else ""
        return (f"step {event.step}/{event.total_steps} res {event.loss_res:.4f}{dif} "
                f"λ {event.lam:.4f} {event.images_per_s:.1f} img/s eta {event.eta_s:.0f}s")
    if isinstance(event, Validation):
        if event.step == 0 and event.psnr_start is not None:
            return (f"starting model on the validation pairs: PSNR {event.psnr:.2f} dB SSIM "
                    f"{event.ssim:.4f} (noisy input {event.psnr_input:.2f} dB)")
        return f"step {event.step} validation: PSNR {event.psnr:.2f} dB SSIM {event.ssim:.4f}"
    if isinstance(event, Finished):
        word = "stopped" if event.stopped else "finished"
        return f"{word} at step {event.step} after {event.elapsed_s:.0f}s; model: {event.model}"
    if isinstance(event, Failed):
        return f"failed at step {event.step}: {event.message}"
    return None


def _rank() -> int:
    """This process's rank under torchrun (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


class _Display:
    """Writes events where they belong: JSON lines, a tqdm bar, or plain lines."""

    def __init__(self, jsonl: bool) -> None:
        self.jsonl = jsonl
        self.bar = None
        self.tty = sys.stderr.isatty() and not jsonl
        self.quiet = _rank() != 0  # under torchrun only rank 0 talks

    def show(self, event: Event) -> None:
        if self.quiet:
            return
        if self.jsonl:
            sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
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

    def _bar(self, event: Progress) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=event.total_steps, initial=event.step, unit="step",
                            dynamic_ncols=True, file=sys.stderr)
        self.bar.update(event.step - self.bar.n)
        post = {"res": f"{event.loss_res:.4f}", "img/s": f"{event.images_per_s:.1f}"}
        if event.loss_dif is not None:
            post["dif"] = f"{event.loss_dif:.4f}"
        self.bar.set_postfix(post, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_training(config: Path | None, overrides: list[str], run_dir: Path | None,
                 resume: Path | None, jsonl: bool, control_stdin: bool) -> int:
    from .errors import UserError
    from .train import train

    if resume is None and config is None:
        raise UserError("give a CONFIG.toml to train, or --resume RUN_DIR to continue a run")
    if resume is not None and overrides:
        raise UserError("--set cannot change a resumed run; start a new run to change settings")
    cfg = load_config(config, overrides) if resume is None else None
    target = resume if resume is not None else (run_dir or default_run_dir(config))

    control = RunControl()
    control.install_sigint()
    if control_stdin and _rank() == 0:
        # Under torchrun every rank inherits the same stdin: a line read by another rank
        # (a "resume" after rank 0 took the "pause") would leave the ranks disagreeing.
        control.listen_stdin()
    display = _Display(jsonl)
    last: Event | None = None
    validation: Validation | None = None
    try:
        for event in train(cfg, target, resume=resume is not None, control=control):
            display.show(event)
            last = event
            if isinstance(event, Validation):
                validation = event
    except UserError:
        raise
    except Exception as exc:
        failed = Failed(step=getattr(last, "step", 0), message=f"{exc.__class__.__name__}: {exc}",
                        traceback=traceback.format_exc())
        folder = RunFolder(target)
        if folder.root.is_dir():
            folder.append_event(failed)
        display.show(failed)
        traceback.print_exc()
        return 1
    finally:
        display.close()
    if isinstance(last, Finished) and validation is not None and not display.quiet:
        print(summary(validation), file=sys.stderr if jsonl else sys.stdout, flush=True)
    return 1 if isinstance(last, Failed) else 0


def summary(v: Validation) -> str:
    """The three numbers a run ends with: noisy input, starting model, adapted model."""
    def pair(psnr: float | None, ssim: float | None) -> str:
        if psnr is None:
            return "—"
        return f"{psnr:6.2f} dB  SSIM {ssim:.4f}" if ssim is not None else f"{psnr:6.2f} dB"

    start = (pair(v.psnr_start, v.ssim_start) if v.psnr_start is not None
             else "— (trained from scratch)")
    lines = [f"On the {v.count} real validation pair(s) (step {v.step}):",
             f"  noisy input     {pair(v.psnr_input, v.ssim_input)}",
             f"  starting model  {start}",
             f"  adapted model   {pair(v.psnr, v.ssim)}"]
    if v.psnr_start is not None:
        gain = v.psnr - v.psnr_start
        lines.append(f"  adaptation: {gain:+.2f} dB over the starting model")
    return "\n".join(lines)

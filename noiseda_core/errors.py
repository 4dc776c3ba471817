"""The one exception type for mistakes a user can make.

A ``UserError`` carries a message meant for a person: it names the file or key
involved and says what to do. The CLI prints it on one line and exits non-zero;
the GUI shows it in the window. Anything else that escapes is a bug.
"""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """A problem with the user's input (files, folders, config, checkpoint)."""


class OutOfMemoryAdvice(UserError):
    """The device ran out of memory; the message says what to lower."""


# what to change after a training run ran out of device memory (the CLI and the app say this)
OUT_OF_MEMORY_ADVICE = (
    "lower train.batch or train.patch, set train.auto_batch=true, or pick a smaller model.diffusion"
)


def with_out_of_memory_advice(message: str, details: str = "") -> str:
    """``message`` with the out-of-memory advice added when ``message`` or ``details`` (a
    traceback) tell of one and the advice is not there yet."""
    if "out of memory" not in (message + details).lower() or OUT_OF_MEMORY_ADVICE in message:
        return message
    return f"{message}\nThe device ran out of memory: {OUT_OF_MEMORY_ADVICE}; then resume."


def not_a_file_reason(path: Path) -> str:
    """Why ``path`` cannot be read as a file: missing, a folder, or a FIFO/device/socket."""
    path = Path(path)
    if not os.path.lexists(path):
        return "the file does not exist"
    if not path.exists():
        return "it is a symbolic link to a file that does not exist"
    if path.is_dir():
        return "it is a folder, not a file"
    return "not a regular file (a pipe, socket or device)"

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

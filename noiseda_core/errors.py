"""The one exception type for mistakes a user can make.

A ``UserError`` carries a message meant for a person: it names the file or key
involved and says what to do. The CLI prints it on one line and exits non-zero;
the GUI shows it in the window. Anything else that escapes is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (files, folders, config, checkpoint)."""


class OutOfMemoryAdvice(UserError):
    """The device ran out of memory; the message says what to lower."""

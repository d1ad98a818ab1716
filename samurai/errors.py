"""The one user-error type of the app layer.

Library code raises :class:`UserError` for bad input (a missing file, a wrong flag combination),
with a message that names the problem and its fix; the command line (``samurai/cli.py``) prints
it as ``samurai COMMAND: error: <message>`` with exit status 2, in one place. A notebook user
sees the same message in the exception.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


# The name this type had when it lived in samurai/cli.py; kept for user code that catches it.
CLIError = UserError

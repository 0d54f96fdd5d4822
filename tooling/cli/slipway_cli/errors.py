"""The one exception type the command line turns into a message and an exit code."""

from __future__ import annotations

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_ATTENTION = 1  # the command ran and found something to act on: conflicts, drift
EXIT_USAGE = 2  # bad input or an unusable repository: nothing was changed


class SlipwayError(Exception):
    """An error to report in a few lines on stderr, without a traceback.

    `message` may span lines; `exit_code` is what the process exits with.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message

"""The exit codes of ``odecast`` and ``CliError``, the failure a command reports in one line."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # the server said no, a job failed, or the server cannot be reached
EXIT_USAGE = 2  # bad usage, bad ODECAST_* settings, or a file that cannot be read or written
EXIT_STDOUT_CLOSED = 141  # what a shell reports for a process a closed pipe killed (128 + 13)


class CliError(Exception):
    """A failure to report in one line; ``exit_code`` says which kind."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code

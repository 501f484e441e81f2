"""Errors that carry their exit code, so every bad input ends as one line, not a traceback."""

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


class CliError(Exception):
    """A problem the user can fix (bad file, missing binary, Docker absent, port in use)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code

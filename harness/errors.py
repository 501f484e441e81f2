"""The one root of every error the harness reports, and the exit codes they map to.

Low in the layers so that any module may raise a :class:`HarnessError`; only the CLI
turns one into a line on stderr and its exit code. Exit codes are part of the interface.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATION = 1
#: Bad arguments or input, or an environment the harness cannot run in.
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
#: A bug in the harness itself (an exception it did not expect): never "etcd broke".
EXIT_INTERNAL = 4


class HarnessError(Exception):
    """A problem the user can fix (bad file, missing binary, Docker absent, port in use)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(HarnessError):
    """Arguments that cannot work, found before anything is started."""


class DiskFullError(HarnessError):
    """The artifact directory ran out of space (or became unwritable) during a run."""

"""The CLI's names for the harness's error root and exit codes (see harness.errors)."""

from harness.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    HarnessError,
    UsageError,
)

#: Every error the CLI prints as one line with its exit code.
CliError = HarnessError

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "EXIT_VIOLATION",
    "CliError",
    "HarnessError",
    "UsageError",
]

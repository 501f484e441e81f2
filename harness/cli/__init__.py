"""The `etcd-harness` command: one sub-module per subcommand, each with ``register``.

Exit codes are part of the interface: 0 linearizable / passed, 1 a violation,
2 bad input, usage or environment, 3 unknown (budget exhausted, or a run that tested too
little), 4 an internal error (a bug in etcd-harness), 128 + the signal when interrupted
(130 SIGINT, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness import __version__, signals
from harness.cli.errors import internal_error_line
from harness.errors import EXIT_INTERNAL, EXIT_USAGE, HarnessError
from harness.signals import interruptible

#: Subcommand modules, each exposing ``register(subparsers)`` which sets ``func``.
SUBCOMMANDS = ["check", "run", "matrix", "merge", "report", "cut", "selftest", "shrink", "etcd", "cleanup"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="etcd-harness", description="Consistency testing for etcd.")
    parser.add_argument("--version", action="version", version=f"etcd-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"harness.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with interruptible():
            return int(args.func(args) or 0)
    except HarnessError as exc:
        # One line, whatever the message quotes (a parser's excerpt may hold newlines).
        print(f"etcd-harness: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"etcd-harness: interrupted ({exc})", file=sys.stderr)
        return signals.exit_code(exc)
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours, and nothing to print to.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - anything else is a bug of ours, never "etcd broke"
        print(internal_error_line(exc), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

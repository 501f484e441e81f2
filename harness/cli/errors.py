"""How the CLI reports what it did not expect: one line naming a bug of the harness."""

import tempfile
import traceback


def internal_error_line(exc: BaseException) -> str:
    """One line naming an unexpected exception and where it was raised; the whole
    traceback goes to a file, for a bug report."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-2:][-1]}:{frames[-1].lineno}" if frames else ""
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="etcd-harness-internal-error-", suffix=".txt", delete=False
        ) as fh:
            fh.write("".join(traceback.format_exception(exc)))
        saved = f"; traceback in {fh.name}"
    except OSError:
        saved = ""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"etcd-harness: internal error (a bug in etcd-harness): {type(exc).__name__}: {text}{where}{saved}"

"""Headless Chromium for report tests: the DOM after scripts ran, and screenshots.

The command-line modes (--dump-dom, --screenshot) need no extra packages and no
DevTools client. Network is cut three ways (no proxy reachable, no name resolves,
background services off) so a page that tried to load anything would show it.
JavaScript errors are seen twice: the page's own error marker (#report-status) and
Chromium's console log on stderr ("Uncaught ...").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _run(binary: str, args: list[str], url: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line and re.search(r"Uncaught|Error|error", line)
    ]


def dump_dom(binary: str, page: Path, fragment: str = "", size: str = "1400,900") -> tuple[str, list[str]]:
    """The serialized DOM once scripts ran, and the console errors seen."""
    res = _run(binary, ["--dump-dom", f"--window-size={size}"], page.resolve().as_uri() + fragment)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, console_errors(res.stderr)


def screenshot(binary: str, page: Path, png: Path, fragment: str = "", size: str = "1400,1800") -> list[str]:
    res = _run(binary, [f"--screenshot={png}", f"--window-size={size}"], page.resolve().as_uri() + fragment)
    assert res.returncode == 0, res.stderr[-2000:]
    return console_errors(res.stderr)


def attr(dom: str, element_id: str, name: str) -> str | None:
    """An attribute of the element with ``id``, from the dumped DOM."""
    m = re.search(rf'<[a-z]+\s[^>]*\bid="{re.escape(element_id)}"[^>]*>', dom)
    if not m:
        return None
    a = re.search(rf'\s{re.escape(name)}="([^"]*)"', m.group(0))
    return a.group(1) if a else None

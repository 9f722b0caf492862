"""Print an HTML file to PDF with headless Chromium, if it is installed.

Never raises for a missing or failing Chromium: the caller gets the reason
as text and records it (the bundle is complete without a PDF).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CHROMIUM_NAMES", "PDF_TIMEOUT_S", "find_chromium", "print_to_pdf"]

#: Executables tried, in order, when no path is given.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Longest a Chromium run may take (seconds) before it is stopped.
PDF_TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    """Path of the first Chromium executable on ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_to_pdf(html: bytes, *, chromium: str | os.PathLike | None = None,
                 timeout_s: float = PDF_TIMEOUT_S) -> tuple[bytes | None, str]:
    """Render self-contained HTML to PDF bytes.

    Parameters
    ----------
    html : bytes
        The page (UTF-8); it must need no network (Chromium gets no file
        other than this one, and the page's own policy forbids fetches).
    chromium : path, optional
        The Chromium executable; by default the first of
        :data:`CHROMIUM_NAMES` found on ``PATH``.
    timeout_s : float
        Chromium and its children are killed after this many seconds.

    Returns
    -------
    (bytes or None, str)
        The PDF and ``"printed with <executable>"``, or None and the reason
        there is no PDF.
    """
    executable = str(chromium) if chromium is not None else find_chromium()
    if executable is None or not (Path(executable).is_file() and os.access(executable, os.X_OK)):
        if executable is None:
            return None, "Chromium is not installed (looked for " + ", ".join(CHROMIUM_NAMES) + ")"
        return None, f"Chromium is not installed at {executable}"
    with tempfile.TemporaryDirectory(prefix="consentry-pdf-") as work:
        page, pdf = Path(work) / "report.html", Path(work) / "report.pdf"
        page.write_bytes(html)
        profile = Path(work) / "profile"
        command = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-pdf-header-footer",
                   "--no-first-run", "--disable-extensions", "--disable-background-networking",
                   f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", page.as_uri()]
        env = dict(os.environ, HOME=work)
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        except OSError as exc:
            return None, f"Chromium could not be started ({exc.strerror or exc})"
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return None, f"Chromium did not finish within {timeout_s:g} s"
        finally:
            # Helpers Chromium left behind belong to the session we started.
            _kill_group(process)
        if process.returncode != 0:
            return None, f"Chromium failed (exit status {process.returncode})"
        try:
            data = pdf.read_bytes()
        except OSError:
            return None, "Chromium wrote no PDF"
        if not data.startswith(b"%PDF"):
            return None, "Chromium's output is not a PDF"
        return data, f"printed with {Path(executable).name}"


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass

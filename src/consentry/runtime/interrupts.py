"""Ctrl-C and SIGTERM: stop within two seconds, keep what is committed, say how to resume.

Four pieces, used by the long commands (``register``, ``scan``, ``works
melodies``):

- :func:`stop_on_signals` (the CLI, around a command): SIGINT and SIGTERM
  raise :class:`Interrupted`, which carries the signal; a second signal
  while stopping is ignored.  A watchdog ends the process if it has not
  exited :data:`EXIT_DEADLINE_S` seconds after the signal (never a hang),
  but not while a commit is in progress.
- :func:`polled` (the services, around a loop that waits on a worker pool):
  a signal only marks the run as stopping, and the loop calls
  :func:`raise_if_stopping` at least every :data:`POLL_S` seconds.  An
  exception raised at an arbitrary point of ``concurrent.futures`` could
  leave one of its locks held (and the exit waiting on it forever), or be
  dropped by Python in the at-fork hooks that run while a pool starts its
  workers; raised at a known point, it cannot.
- :func:`deferred_interrupts` (the services, around a commit): a signal
  that arrives inside the block is acted on when the block ends, so a batch
  is stored whole (works, index, claims and melodies together) or not at all.
- :meth:`Interrupted.after` (the services): the same interruption, with what
  was kept (``kept``), for the CLI to word.

Exit status: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

#: Seconds after the signal by which the process has exited (the watchdog's deadline).
EXIT_DEADLINE_S = 2.0
#: Longest a commit in progress may hold the watchdog back (seconds).
COMMIT_GRACE_S = 15.0
#: Longest a polled loop may go without calling :func:`raise_if_stopping` (seconds).
POLL_S = 0.25

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT (Ctrl-C) or SIGTERM.

    Parameters
    ----------
    signum : int
        The signal (default SIGINT).
    kept : dict, optional
        What the run stored before it stopped (e.g. ``{"batches": 3, "works": 96}``
        for ``register``; ``{"scan_id": ..., "items": 40}`` for ``scan``).
    """

    def __init__(self, signum: int = signal.SIGINT, kept: dict | None = None) -> None:
        self.signum = int(signum)
        self.kept = dict(kept or {})
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @classmethod
    def after(cls, exc: BaseException, **kept) -> "Interrupted":
        """``exc`` (a KeyboardInterrupt or an :class:`Interrupted`) with what was kept added."""
        signum = getattr(exc, "signum", signal.SIGINT)
        return cls(signum, {**getattr(exc, "kept", {}), **kept})


_stopping: list[int] = []  # the signal that asked this run to stop, if one did
_cli = [False]  # stop_on_signals is in force: the process is ending, a watchdog bounds it
_commits = [0]  # deferred_interrupts blocks in progress (main thread)


def _note(signum: int) -> bool:
    """Record a stop request; True for the first one (the CLI's watchdog starts then)."""
    if _stopping:
        return False
    _stopping.append(signum)
    if _cli[0]:
        threading.Thread(target=_watchdog, args=(signum, time.monotonic()), name="consentry-exit-watchdog",
                         daemon=True).start()
    return True


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


# -- the CLI side -----------------------------------------------------------------------
def _quit_at_start(signum: int, frame) -> None:
    try:
        sys.stderr.write("interrupted before the command started; nothing was changed\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def guard_start() -> None:
    """Until :func:`start_done`, SIGINT and SIGTERM end the process at once with one line.

    For the CLI's start-up, while its modules load (a second or so): nothing
    is open or stored yet, and Python would print a KeyboardInterrupt traceback.
    """
    if _main_thread():
        for s in _SIGNALS:
            signal.signal(s, _quit_at_start)


def start_done() -> None:
    """Python's own handling of SIGINT (KeyboardInterrupt) and SIGTERM again, after :func:`guard_start`."""
    if _main_thread():
        for s, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
            if signal.getsignal(s) is _quit_at_start:
                signal.signal(s, default)


def _on_signal(signum: int, frame) -> None:
    if _note(signum):
        raise Interrupted(signum)
    # already stopping: the watchdog bounds the exit


def _watchdog(signum: int, since: float) -> None:
    """End the process if it is still here ``EXIT_DEADLINE_S`` after the signal (later only while a commit runs)."""
    while True:
        waited = time.monotonic() - since
        if waited >= EXIT_DEADLINE_S and (not _commits[0] or waited >= EXIT_DEADLINE_S + COMMIT_GRACE_S):
            break
        time.sleep(0.05)
    import multiprocessing

    for child in multiprocessing.active_children():  # no worker outlives us
        child.kill()
    try:
        sys.stderr.write(f"interrupted: stopped after {EXIT_DEADLINE_S:g} s without finishing the clean-up\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only; elsewhere a no-op)."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    _stopping.clear()
    _cli[0] = True
    for s in _SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _cli[0] = False


# -- the services' side -------------------------------------------------------------------
def raise_if_stopping() -> None:
    """Raise :class:`Interrupted` if a signal asked this run to stop (in a :func:`polled` block, or a dropped one)."""
    if _stopping:
        raise Interrupted(_stopping[0])


@contextmanager
def polled() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM only ask to stop; :func:`raise_if_stopping` raises.

    The block must call :func:`raise_if_stopping` at least every
    :data:`POLL_S` seconds; it is also called when the block ends without an
    exception.  Outside the main thread (where no signal handler runs) the
    block just runs.
    """
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, lambda signum, frame: _note(signum))
    try:
        yield
        raise_if_stopping()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if not _cli[0]:
            _stopping.clear()  # a library caller may run again; the CLI is ending


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block to its end before acting on SIGINT or SIGTERM (for a commit that must not be cut).

    A signal received inside the block is handed to the handler that was in
    place (raising :class:`Interrupted` or KeyboardInterrupt, marking a
    :func:`polled` run as stopping, or the default action) once the block is
    done.  Outside the main thread the block just runs.
    """
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    received: list[int] = []

    def record(signum: int, frame) -> None:
        received.append(signum)

    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, record)
    _commits[0] += 1
    try:
        yield
    finally:
        _commits[0] -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        signum = received[0]
        handler = previous[signum]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)

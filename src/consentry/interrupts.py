"""Ctrl-C and SIGTERM: stop within two seconds, keep what is committed, say how to resume.

Three pieces, used by the long commands (``register``, ``scan``, ``works
melodies``):

- :func:`stop_on_signals` (the CLI, around a command): SIGINT and SIGTERM
  raise :class:`Interrupted`, which carries the signal; a second signal
  while stopping is ignored.  A watchdog ends the process if it has not
  exited :data:`EXIT_DEADLINE_S` seconds after the signal (never a hang),
  but never in the middle of a commit.
- :func:`deferred_interrupts` (the services, around a commit): a signal
  that arrives inside the block is acted on when the block ends, so a batch
  is stored whole (works, index, claims and melodies together) or not at all.
- :meth:`Interrupted.after` (the services): the same interruption, with what
  was kept (``kept``), for the CLI to word.
- :func:`raise_if_stopping` (the services' loops): raises again when the
  handler's exception was lost, which Python does when a handler runs inside
  an at-fork hook (while a pool starts its workers), a finalizer or a
  callback; loops that wait call it at least every :data:`POLL_S` seconds.

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
#: Longest a service loop waits before it looks for a lost interruption (seconds).
POLL_S = 0.25

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT (Ctrl-C) or SIGTERM.

    Parameters
    ----------
    signum : int
        The signal (default SIGINT).
    kept : dict, optional
        What the run stored before it stopped (e.g. ``{"batches": 3, "works": 120}``
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


# -- the CLI side -----------------------------------------------------------------------
_stopping: list[int] = []  # the signal that started the stop, if any
_commits = [0]  # deferred_interrupts blocks in progress (main thread)


def _on_signal(signum: int, frame) -> None:
    if _stopping:
        return  # already stopping; the watchdog bounds the exit
    _stopping.append(signum)
    threading.Thread(target=_watchdog, args=(signum, time.monotonic()), name="consentry-exit-watchdog",
                     daemon=True).start()
    raise Interrupted(signum)


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
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    _stopping.clear()
    for s in _SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# -- the services' side -------------------------------------------------------------------
def raise_if_stopping() -> None:
    """Raise :class:`Interrupted` if a signal asked this process to stop (see :func:`stop_on_signals`).

    The handler raises at once; this catches the case where Python dropped
    that exception (a handler run inside an at-fork hook or a finalizer only
    prints it).
    """
    if _stopping:
        raise Interrupted(_stopping[0])


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block to its end before acting on SIGINT or SIGTERM (for a commit that must not be cut).

    A signal received inside the block is handed to the handler that was in
    place (raising :class:`Interrupted` or KeyboardInterrupt, or the
    default action) once the block is done.  Outside the main thread, signals
    are not delivered to this thread anyway, and the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
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

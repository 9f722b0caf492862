"""One exception tree for Consentry.

Every exception's ``str()`` is a single line that names the input at fault and
says what to do about it; the CLI prints that line (no traceback unless
``--debug``) and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path


class ConsentryError(Exception):
    """Base of every error Consentry raises on purpose."""


class InputError(ConsentryError):
    """A file, folder or argument given by the user cannot be used."""


class DecodeError(InputError):
    """An audio input could not be decoded.

    Parameters
    ----------
    source : str or Path
        The input as the user named it.
    reason : str
        What went wrong, in words a user can act on.
    """

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class RegistryError(ConsentryError):
    """The registry database cannot be opened or used."""


class NotARegistryError(RegistryError):
    """The file named as a registry is not a Consentry registry."""


class WorkNotFoundError(RegistryError):
    """No work with the given id exists in the registry."""

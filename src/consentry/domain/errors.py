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


class ScanNotFoundError(InputError):
    """No scan with the given id is stored in the registry."""


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


def _label(name: str) -> str:
    """The neutral name of a field: its words (``valid_until`` -> ``valid until``)."""
    return name.replace("_", " ")


class _Names(dict):
    def __init__(self, label):
        super().__init__()
        self._label = label

    def __missing__(self, key: str) -> str:
        return self._label(key)


class FieldError(InputError):
    """A value of one named field cannot be used (neutral wording; adapters name the field their way).

    Parameters
    ----------
    field : str
        The field at fault, as the domain names it (``price``, ``valid_until``).
    message : str
        What is wrong, naming fields as ``{name}`` placeholders (``"{decision} license needs {price}"``);
        each adapter words them: the CLI as its flags (``--price``), the API as its field names, the web
        and ``str()`` as words.  Braces in quoted values must be doubled (see :func:`quote`).

    Examples
    --------
    >>> e = FieldError("price", "{decision} license needs {price}, a number >= 0")
    >>> str(e)
    'decision license needs price, a number >= 0'
    >>> e.worded(lambda name: "--" + name)
    '--decision license needs --price, a number >= 0'
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(self.worded(_label))

    def worded(self, label=_label) -> str:
        """The message with every ``{field}`` named by ``label(field)``."""
        return self.message.format_map(_Names(label))

    def __reduce__(self):
        return (type(self), (self.field, self.message))


def quote(value) -> str:
    """``repr(value)`` safe inside a :class:`FieldError` message (braces doubled)."""
    return repr(value).replace("{", "{{").replace("}", "}}")

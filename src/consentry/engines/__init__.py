"""Media engines: one per medium, behind one interface (:mod:`consentry.engines.base`).

>>> from consentry import engines
>>> engines.get("music").id.name
'consentry-music-landmark'

Adding a medium is its engine package plus one line in :data:`_BUILTIN`
(``"text": "consentry.engines.text:TextEngine"``).  Engines are imported
when first asked for, so importing this package costs nothing.  A test or a
plug-in may :func:`register` an engine of its own.  See ``docs/engines.md``.

Melody and voice are *checks*, not identification engines: they compare a
query with a handful of stored melodies or voice prints, have no index,
and return no located copy of a registered work (``docs/engines.md``,
"Checks").  Their identities live in :mod:`consentry.services.check.engines` and
:mod:`consentry.engines.voice.model`.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable

from consentry.engines.base import EngineId, Extent, Fingerprint, Located, MediaEngine, Signal

__all__ = [
    "EngineId", "Extent", "Fingerprint", "Located", "MediaEngine", "Signal",
    "by_engine_name", "get", "media", "register", "unregister",
]

#: Built-in media: medium -> "module:factory" (a class or function called with ``params=`` or nothing).
_BUILTIN: dict[str, str] = {
    "music": "consentry.engines.music:MusicEngine",
}

_lock = threading.Lock()
_factories: dict[str, Callable[..., Any]] = {}
_default: dict[str, MediaEngine] = {}
_other: dict[tuple[str, Any], MediaEngine] = {}


def _factory(medium: str) -> Callable[..., Any]:
    f = _factories.get(medium)
    if f is not None:
        return f
    spec = _BUILTIN.get(medium)
    if spec is None:
        known = ", ".join(media()) or "none"
        raise KeyError(f"no engine for the medium {medium!r} (known: {known})")
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def get(medium: str, *, params: Any = None) -> MediaEngine:
    """The engine of a medium (``"music"``), with its default parameters or ``params``.

    One instance per medium and parameters (parameters are frozen, hence
    hashable), so callers may ask for it on every call.

    Raises
    ------
    KeyError
        If no engine serves ``medium`` (the message names those that do).
    """
    with _lock:
        engine = _default.get(medium)
        if engine is None:
            engine = _default[medium] = _factory(medium)()
        if params is None or params == engine.params:
            return engine
        key = (medium, params)
        other = _other.get(key)
        if other is None:
            if len(_other) >= 16:
                _other.clear()
            other = _other[key] = _factory(medium)(params=params)
        return other


def media() -> list[str]:
    """Names of the media that have an engine, sorted."""
    return sorted(set(_BUILTIN) | set(_factories))


def by_engine_name(name: str) -> MediaEngine:
    """The default engine whose :attr:`EngineId.name` is ``name`` (as stored with a work or a segment).

    Raises
    ------
    KeyError
        If no registered medium has an engine of that name.
    """
    for medium in media():
        engine = get(medium)
        if engine.id.name == name:
            return engine
    raise KeyError(f"no engine named {name!r}")


def register(medium: str, factory: Callable[..., Any], *, replace: bool = False) -> None:
    """Serve ``medium`` with ``factory`` (called with no arguments, or with ``params=``).

    Raises
    ------
    ValueError
        If ``medium`` already has an engine and ``replace`` is false.
    """
    with _lock:
        if not replace and (medium in _factories or medium in _BUILTIN):
            raise ValueError(f"the medium {medium!r} already has an engine (pass replace=True)")
        _factories[medium] = factory
        _forget(medium)


def unregister(medium: str) -> None:
    """Forget an engine given to :func:`register` (a built-in one comes back)."""
    with _lock:
        _factories.pop(medium, None)
        _forget(medium)


def _forget(medium: str) -> None:
    _default.pop(medium, None)
    for key in [k for k in _other if k[0] == medium]:
        del _other[key]

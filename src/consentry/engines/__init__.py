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
    "by_engine_name", "extensions", "for_head", "get", "in_sniff_order", "item_extensions", "media", "medium_of_engine",
    "register", "unregister",
]

#: Built-in media: medium -> "module:factory" (a class or function called with ``params=`` or nothing).
_BUILTIN: dict[str, str] = {
    "music": "consentry.engines.music:MusicEngine",
    "text": "consentry.engines.text:TextEngine",
    "image": "consentry.engines.image:ImageEngine",
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


def medium_of_engine(name: str) -> str:
    """The medium of the engine named ``name`` (as stored with a work), without importing engines when it can.

    Engines already made answer first; then the naming rule of the built-in
    engines (``consentry-<medium>-…``); then every engine is asked
    (:func:`by_engine_name`).  An unknown name is ``"music"``: works stored
    before there were other media name no other engine.
    """
    with _lock:
        made = list(_default.items())
    for medium, engine in made:
        if engine.id.name == name:
            return medium
    parts = name.split("-")
    if len(parts) > 2 and parts[0] == "consentry" and parts[1] in _BUILTIN:
        return parts[1]
    try:
        return by_engine_name(name).medium
    except (KeyError, ImportError):
        return "music"


def in_sniff_order() -> list[MediaEngine]:
    """Every medium's default engine, in the order their sniffers are asked.

    Lower ``sniff_order`` first (an optional engine attribute, default 50):
    precise magic-byte sniffers (audio, images) before the text engine, which
    claims whatever decodes as text.  An engine whose libraries are not
    installed (ImportError) is left out.
    """
    found = []
    for medium in media():
        try:
            found.append(get(medium))
        except ImportError:
            continue
    return sorted(found, key=lambda e: (getattr(e, "sniff_order", 50), e.medium))


def for_head(head: bytes, *, name: str | None = None) -> MediaEngine | None:
    """The engine whose sniffer claims an input starting with ``head`` (4 KiB are enough), or None.

    Content decides, with one rule for names: a file whose suffix belongs to
    one medium (``song.wav`` to music, ``photo.jpg`` to images) is read by that
    medium's engine or by none. So a damaged ``.wav`` that happens to hold
    ASCII is reported as unreadable audio, not read as a text; a file without
    such a suffix (``data.bin``, ``0001``, a dataset member) is sniffed by
    every engine.
    """
    owner = _suffix_owner(name)
    if owner is not None:  # only that medium's engine is asked (the others are not even imported)
        try:
            candidates = [get(owner)]
        except ImportError:
            return None
    else:
        candidates = in_sniff_order()
    for engine in candidates:
        try:
            if engine.sniff(head, name=name):
                return engine
        except Exception:  # noqa: BLE001 - a sniffer that cannot read the head does not claim it
            continue
    return None


def _suffix_owner(name: str | None) -> str | None:
    """The medium whose files carry the suffix of ``name`` (music: the audio suffixes), or None."""
    if not name:
        return None
    import os

    suffix = os.path.splitext(name)[1].lower()
    if not suffix:
        return None
    from consentry.io.decode.audio import AUDIO_EXTENSIONS

    if suffix in AUDIO_EXTENSIONS:
        return "music"
    for engine in in_sniff_order():
        if engine.medium != "music" and suffix in getattr(engine, "extensions", ()):
            return engine.medium
    return None


def extensions() -> frozenset[str]:
    """Lower-cased file suffixes (``".txt"``) of the media other than music, from each engine's ``extensions``."""
    out: set[str] = set()
    for engine in in_sniff_order():
        if engine.medium != "music":
            out.update(s.lower() for s in getattr(engine, "extensions", ()))
    return frozenset(out)


def item_extensions() -> frozenset[str]:
    """The suffixes a folder walk or an archive takes as items: audio's and every other medium's."""
    from consentry.io.decode.audio import AUDIO_EXTENSIONS

    return AUDIO_EXTENSIONS | extensions()


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

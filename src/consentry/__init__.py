"""Consentry: a consent registry and training-data auditor for creative works.

``from consentry import Registry`` is the entry point; see
:class:`consentry.services.registry.Registry`.  Names are imported lazily so that using
one part (say, :mod:`consentry.domain.errors`) does not load the audio stack.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "Registry": "services.registry",
    "RegisterSummary": "services.registry",
    "IdentifyResult": "services.registry",
    "Match": "domain.works",
    "Terms": "domain.works",
    "Work": "domain.works",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'consentry' has no attribute {name!r}")

"""The registry's storage: one protocol (:class:`consentry.store.base.Store`), SQLite
(:mod:`consentry.store.sqlite`, the embedded default) and PostgreSQL (:mod:`consentry.store.postgres`).

Nothing heavy is imported here: :func:`is_postgres_url` chooses the backend
without loading the PostgreSQL driver.
"""

from __future__ import annotations


def is_postgres_url(spec: object) -> bool:
    """True for a registry spec that names a PostgreSQL database."""
    return isinstance(spec, str) and spec.lower().startswith(("postgresql://", "postgres://"))


def store_of(holder: object):
    """The store of a registry (``registry.store``), or ``holder`` itself when it is a store.

    Use cases that work on the store take either: adapters hand them the
    registry they opened (and never reach into its store), the services below
    pass the store they already hold.
    """
    return getattr(holder, "store", holder)

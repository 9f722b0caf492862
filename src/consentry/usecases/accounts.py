"""Server accounts, API tokens and the audit log, as the adapters read them (CLI ``accounts``/``tokens``, the API's
``/auth`` routes, the web app's admin pages).

The changes (create, disable, bind, passwords, tokens, sessions) are the use cases of
:mod:`consentry.accounts.service`; these are the reads, so that no adapter asks the store itself.
"""

from __future__ import annotations


def list_accounts(registry) -> list[dict]:
    """Every account row (with its password hash: show them through ``accounts.service.public_account``)."""
    return registry.store.list_accounts()


def get_account(registry, account_id: str) -> dict | None:
    """The account row of an id, or None."""
    return registry.store.get_account(account_id)


def list_tokens(registry, *, account_id: str | None = None) -> list[dict]:
    """API token rows (no secrets are stored), of one account or all."""
    return registry.store.list_tokens(account_id=account_id)


def get_token(registry, token_id: str) -> dict | None:
    """The API token row of an id, or None."""
    return registry.store.get_token(token_id)


def audit_log(registry, *, limit: int = 100, before_seq: int | None = None, account_id: str | None = None,
              action: str | None = None, target_id: str | None = None) -> list[dict]:
    """Audit records, newest first, filtered (who changed what, when, from where)."""
    return registry.store.audit_records(limit=limit, before_seq=before_seq, account_id=account_id, action=action,
                                        target_id=target_id)

"""Server accounts, API tokens and the audit log, as the adapters read them (CLI ``accounts``/``tokens``, the API's
``/auth`` routes, the web app's admin pages).

The changes (create, disable, bind, passwords, tokens, sessions) are the use cases of
:mod:`consentry.services.accounts`; these are the reads, so that no adapter asks the store itself.
"""

from __future__ import annotations

from consentry.services.results import AccountView, TokenView


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


# -- changes: the account use cases of consentry.services.accounts, each with its audit record ------------------------
def create_account(registry, *, by, email: str, password: str, role: str, creator: str | None = None,
                   display_name: str | None = None, **options) -> AccountView:
    """Create an account (an administrator's act, or the first admin on the command line); audit ``accounts.create``.

    ``options`` go to :func:`consentry.services.accounts.create_account` (``auth=``, ``existing_creators=``).
    """
    from consentry.services import accounts
    from consentry.services.works import record_change

    account = accounts.create_account(registry.store, email=email, password=password, role=role, creator=creator,
                                      display_name=display_name, **options)
    record_change(registry, by, "accounts.create", target_kind="account", target_id=account["account_id"],
                  details={"role": account["role"], "creator": account["creator"], "email": account["email"]})
    return account


def disable_account(registry, ref: str, *, by) -> AccountView:
    """Disable an account (an id or e-mail): it can no longer sign in, its sessions end and its tokens stop working;
    audit ``accounts.disable``."""
    from consentry.services import accounts
    from consentry.services.works import record_change

    row = accounts.disable_account(registry.store, ref)
    record_change(registry, by, "accounts.disable", target_kind="account", target_id=row["account_id"])
    return row


def enable_account(registry, ref: str, *, by) -> AccountView:
    """Enable a disabled account (an id or e-mail) again; audit ``accounts.enable``."""
    from consentry.services import accounts as accounts
    from consentry.services.works import record_change

    row = accounts.enable_account(registry.store, ref)
    record_change(registry, by, "accounts.enable", target_kind="account", target_id=row["account_id"])
    return row


def bind_account(registry, ref: str, *, by) -> dict:
    """Bind a creator account (an id or e-mail) to its creator name: it then controls every work under the name;
    audit ``accounts.bind``. Returns the account row."""
    from consentry.services import accounts
    from consentry.services.works import record_change

    row = accounts.find_account(registry.store, ref)
    accounts.bind_creator(registry.store, row)
    record_change(registry, by, "accounts.bind", target_kind="account", target_id=row["account_id"],
                  details={"creator": row["creator"]})
    return row


def create_token(registry, *, by, account: dict, name: str, scopes, expires_in_days: float | None) -> tuple[TokenView, str]:
    """Make an API token for ``account`` (a row); audit ``tokens.create`` with the account, name, scopes and expiry
    (the same record from the CLI and the API). Returns ``(token row, secret)``: the secret is shown once."""
    from consentry.services import accounts
    from consentry.services.works import record_change

    token, secret = accounts.create_token(registry.store, account=account, name=name, scopes=scopes,
                                          expires_in_days=expires_in_days)
    record_change(registry, by, "tokens.create", target_kind="token", target_id=token["token_id"],
                  details={"account_id": account["account_id"], "name": token["name"], "scopes": token["scopes"],
                           "expires_at": token["expires_at"]})
    return token, secret


def revoke_token(registry, token_id: str, *, by) -> TokenView:
    """Revoke an API token; audit ``tokens.revoke``."""
    from consentry.services import accounts
    from consentry.services.works import record_change

    token = accounts.revoke_token(registry.store, token_id)
    record_change(registry, by, "tokens.revoke", target_kind="token", target_id=token["token_id"])
    return token

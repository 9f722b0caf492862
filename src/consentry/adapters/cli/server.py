"""CLI of the server: ``serve``, ``accounts create|list|disable|bind|password``, ``tokens create|list|revoke``.

Thin: :mod:`consentry.adapters.api` and :mod:`consentry.accounts`.  Changes made here
are written to the audit log with the actor ``cli:<user>``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from consentry.domain.errors import InputError
from consentry.adapters.cli.main import _open, app, console, state

accounts_app = typer.Typer(help="Server accounts: create (the first admin too), list, disable, set a password.",
                           no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
tokens_app = typer.Typer(help="API tokens of server accounts: create (the secret is shown once), list, revoke.",
                         no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


def _cli_actor() -> str:
    from consentry.adapters.cli.main import _cli_acted_by

    return _cli_acted_by().name


def _read_password(password_file: Optional[Path], *, confirm: bool = True) -> str:
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--password-file {password_file}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise InputError(f"--password-file {password_file}: the first line (the password) is empty")
        return lines[0]
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface; put a TLS proxy in front)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Uploads, job outputs and the server lock "
                                            "(default: CONSENTRY_DATA_DIR, else consentry-data/ beside the registry)."),
    public_url: Optional[str] = typer.Option(None, "--public-url", help="Where users reach the server, e.g. "
                                             "https://consent.example.org (default: http://HOST:PORT)."),
    signup: Optional[bool] = typer.Option(None, "--signup/--no-signup", help="Allow open sign-up of creator and licensee accounts."),
    job_threads: Optional[int] = typer.Option(None, min=1, help="Background jobs run at once (default 2)."),
    scan_workers: Optional[int] = typer.Option(None, min=1, help="Processes per dataset scan (default 1)."),
    allow_url_fetch: Optional[bool] = typer.Option(None, "--allow-url-fetch/--no-url-fetch",
                                                   help="Let users make the server download manifest URLs (default off)."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Requests per second per token or account (default 20)."),
    trust_forwarded_for: Optional[bool] = typer.Option(None, "--trust-forwarded-for/--no-trust-forwarded-for",
                                                       help="Take client addresses from X-Forwarded-For (behind your proxy only)."),
    log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Run the Consentry server: the web app at /app (creators, licensees, admins), the REST API under /api/v1
    (OpenAPI at /docs and /openapi.json) and the public terms files (/robots.txt, /terms/ ...).

    On start it prints the web app's address and, while the registry has no admin account, the command that
    makes the first one.
    """
    import uvicorn

    from consentry.adapters.api import ServerSettings, create_app

    registry = state.registry_path
    default_dir = None
    if data_dir is None and "CONSENTRY_DATA_DIR" not in os.environ and "://" not in registry:
        default_dir = Path(registry).expanduser().resolve().parent / "consentry-data"
    settings = ServerSettings.from_env(
        registry=registry, data_dir=data_dir or default_dir, public_url=public_url or None, signup=signup,
        job_threads=job_threads, scan_workers=scan_workers, allow_url_fetch=allow_url_fetch, rate_per_s=rate,
        trust_forwarded_for=trust_forwarded_for)
    if public_url is None and "CONSENTRY_PUBLIC_URL" not in os.environ:
        settings = settings.with_(public_url=f"http://{host}:{port}")
    from consentry.adapters.api.serving import uvicorn_options

    app_ = create_app(settings)
    _say_where(settings, host=host, port=port)
    uvicorn.run(app_, host=host, port=port, log_level=log_level, **uvicorn_options(settings))


def _say_where(settings, *, host: str, port: int) -> None:
    """Print (standard error) where the web app is and, while no admin account exists, how to make the first one."""
    from consentry.adapters.cli.main import err_console

    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = settings.public_url.rstrip("/") if settings.public_url else f"http://{shown}:{port}"
    err_console.print(f"Consentry web app: {url}/app   (API {url}/api/v1, API docs {url}/docs)", highlight=False,
                      soft_wrap=True)
    try:
        with _open(create=False) as reg:
            from consentry.services.account_views import list_accounts

            admins = [a for a in list_accounts(reg) if a["role"] == "admin" and not a["disabled_at"]]
    except Exception:  # noqa: BLE001 - a new registry (the server makes it), or one the server reports on itself
        admins = []
    if not admins:
        import shlex

        reg_opt = "" if state.registry_path == "consentry.db" else f" --registry {shlex.quote(state.registry_path)}"
        err_console.print("No admin account yet. Make the first one (it asks for a password):\n"
                          f"  consentry{reg_opt} accounts create --email YOU@EXAMPLE.ORG --role admin", highlight=False,
                          soft_wrap=True)


# -- accounts ----------------------------------------------------------------------------
@accounts_app.command("create")
def accounts_create(
    email: str = typer.Option(..., "--email", help="The account's e-mail address (its sign-in name)."),
    role: str = typer.Option(..., "--role", help="creator, licensee or admin."),
    creator: Optional[str] = typer.Option(None, "--creator", help="For a creator account: the creator name it manages."),
    display_name: Optional[str] = typer.Option(None, "--name", help="A display name."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="Read the password from the first line "
                                                 "of this file (default: prompt)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an account (make the first admin here: --role admin)."""
    from consentry.services.account_views import create_account
    from consentry.adapters.cli.main import _cli_acted_by

    password = _read_password(password_file)
    with _open() as reg:
        account = create_account(reg, by=_cli_acted_by(), email=email, password=password, role=role, creator=creator,
                                 display_name=display_name)
    if as_json:
        typer.echo(json.dumps(account, ensure_ascii=False))
    else:
        console.print(f"created {account['role']} account {account['account_id']} for {account['email']}"
                      + (f" (creator {account['creator']})" if account["creator"] else ""), highlight=False)


@accounts_app.command("list")
def accounts_list(as_json: bool = typer.Option(False, "--json", help="JSON lines, one per account.")) -> None:
    """Every account (never the password hashes)."""
    from consentry.services.accounts import public_account
    from consentry.services.account_views import list_accounts

    with _open(create=False) as reg:
        rows = [public_account(a) for a in list_accounts(reg)]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} account(s)", title_justify="left")
    for col in ("account", "e-mail", "role", "creator", "created", "disabled"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["account_id"], r["email"], r["role"], r["creator"] or "", r["created_at"], r["disabled_at"] or "")
    console.print(table)


@accounts_app.command("disable")
def accounts_disable(account: str = typer.Argument(..., help="Account id or e-mail."),
                     as_json: bool = typer.Option(False, "--json")) -> None:
    """Disable an account: it can no longer sign in; its sessions end and its tokens stop working."""
    from consentry.services.account_views import disable_account
    from consentry.adapters.cli.main import _cli_acted_by

    with _open(create=False) as reg:
        row = disable_account(reg, account, by=_cli_acted_by())
    if as_json:
        typer.echo(json.dumps(row, ensure_ascii=False))
    else:
        console.print(f"disabled {row['account_id']} ({row['email']})", highlight=False)


@accounts_app.command("bind")
def accounts_bind(account: str = typer.Argument(..., help="Account id or e-mail of a creator account."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Bind a creator account to its creator name: it then controls every work under the name, whoever registered
    it (an account made by open sign-up controls only the works registered through it until then)."""
    from consentry.services.accounts import public_account
    from consentry.services.account_views import bind_account
    from consentry.adapters.cli.main import _cli_acted_by

    with _open(create=False) as reg:
        row = bind_account(reg, account, by=_cli_acted_by())
    if as_json:
        typer.echo(json.dumps(public_account(row), ensure_ascii=False))
    else:
        console.print(f"bound {row['account_id']} ({row['email']}) to the creator name {row['creator']!r}", highlight=False)


@accounts_app.command("password")
def accounts_password(account: str = typer.Argument(..., help="Account id or e-mail."),
                      password_file: Optional[Path] = typer.Option(None, "--password-file"),
                      as_json: bool = typer.Option(False, "--json")) -> None:
    """Set an account's password (its sessions end)."""
    from consentry.services.accounts import audit, set_password

    password = _read_password(password_file)
    with _open(create=False) as reg:
        row = set_password(reg, account, password)
        audit(reg, principal=None, actor=_cli_actor(), action="accounts.password", target_kind="account",
              target_id=row["account_id"])
    if as_json:
        typer.echo(json.dumps({"account_id": row["account_id"], "password_set": True}))
    else:
        console.print(f"password set for {row['account_id']} ({row['email']})", highlight=False)


# -- tokens -------------------------------------------------------------------------------------
@tokens_app.command("create")
def tokens_create(
    account: str = typer.Option(..., "--account", help="Account id or e-mail the token acts for."),
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. 'ci scanner'."),
    scope: List[str] = typer.Option(..., "--scope", help="Repeatable: works:read, works:write, identify, scan, check, "
                                    "ledger, tokens, admin (within the account's role)."),
    expires_days: Optional[float] = typer.Option(90.0, "--expires-days", help="Days until it expires (0: never)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an API token; its secret is printed once (store it; only its hash is kept)."""
    from consentry.services.accounts import find_account
    from consentry.services.account_views import create_token
    from consentry.adapters.cli.main import _cli_acted_by

    scopes = [s for item in scope for s in item.replace(",", " ").split()]
    with _open(create=False) as reg:
        row = find_account(reg, account)
        token, secret = create_token(reg, by=_cli_acted_by(), account=row, name=name, scopes=scopes,
                                     expires_in_days=None if not expires_days else expires_days)
    if as_json:
        typer.echo(json.dumps({"token": token, "secret": secret}))
    else:
        console.print(f"token {token['token_id']} for {row['email']} ({' '.join(token['scopes'])}; expires "
                      f"{token['expires_at'] or 'never'}):", highlight=False)
        typer.echo(secret)


@tokens_app.command("list")
def tokens_list(account: Optional[str] = typer.Option(None, "--account", help="Only this account's tokens."),
                as_json: bool = typer.Option(False, "--json", help="JSON lines, one per token.")) -> None:
    """API tokens (never their secrets)."""
    from consentry.services.accounts import find_account, public_token
    from consentry.services.account_views import list_tokens

    with _open(create=False) as reg:
        account_id = find_account(reg, account)["account_id"] if account else None
        rows = [public_token(t) for t in list_tokens(reg, account_id=account_id)]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r))
        return
    table = Table(title=f"{len(rows)} token(s)", title_justify="left")
    for col in ("token", "account", "name", "scopes", "expires", "last used", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["token_id"], r["account_id"], r["name"], " ".join(r["scopes"]), r["expires_at"] or "never",
                      r["last_used_at"] or "", r["revoked_at"] or "")
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str = typer.Argument(..., help="The token id (tok-...), not its secret."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Revoke a token: it stops working at once."""
    from consentry.services.account_views import revoke_token
    from consentry.adapters.cli.main import _cli_acted_by

    with _open(create=False) as reg:
        row = revoke_token(reg, token_id, by=_cli_acted_by())
    if as_json:
        typer.echo(json.dumps(row))
    else:
        console.print(f"revoked {row['token_id']} ({row['name']})", highlight=False)

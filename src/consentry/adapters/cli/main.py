"""The ``consentry`` command: a thin layer over :class:`consentry.Registry`.

Exit codes (every command): 0 ok; 1 error (bad input, unreadable registry, a
query that could not be decoded); 2 findings that the user asked to fail on
(``identify --fail-on-match``, ``scan --fail-on``); 130 interrupted by Ctrl-C
(SIGINT), 143 by SIGTERM (``register`` and ``scan`` say what was kept and how
to resume).
"""

from __future__ import annotations

import sys

from consentry.runtime.interrupts import guard_start, start_done
from consentry.runtime.threads import prefer_one_thread_env

if __name__ == "__main__" or sys.argv[0].endswith("/consentry"):
    guard_start()  # Ctrl-C while the modules load: one line, no traceback (consentry/runtime/interrupts.py)
prefer_one_thread_env()  # before NumPy is imported: see consentry/runtime/threads.py

import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from consentry import __version__
from consentry.domain.errors import ConsentryError, InputError
from consentry.runtime.interrupts import Interrupted, stop_on_signals

if TYPE_CHECKING:  # the services (NumPy, the audio stack) load when a command opens the registry
    from rich.progress import Progress

    from consentry.services.registry import Registry

EXIT_OK, EXIT_ERROR, EXIT_FINDINGS = 0, 1, 2

HELP = """Consentry: register works with their AI-use terms and find them in other audio.

Exit codes: 0 ok, 1 error, 2 findings you asked to fail on (identify --fail-on-match, scan --fail-on),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."""

app = typer.Typer(help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
works_app = typer.Typer(help="List, show and remove registered works.", no_args_is_help=True)
app.add_typer(works_app, name="works")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # messages stay one line each, whatever the width


class State:
    registry_path: str = "consentry.db"
    debug: bool = False


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"consentry {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    registry: str = typer.Option(
        "consentry.db", "--registry", envvar="CONSENTRY_REGISTRY",
        help="Registry file (SQLite; its index lives beside it in REGISTRY.index/), or a PostgreSQL URL "
             "postgresql://user@host/database for a shared registry (docs/postgres.md)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    state.registry_path = registry
    state.debug = debug


def _open(create: bool = True) -> Registry:
    from consentry.services.registry import Registry

    return Registry.open(state.registry_path, create=create)


def _progress(transient: bool = True) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )


@app.command()
def register(
    paths: List[Path] = typer.Argument(..., help="Audio files and folders (searched recursively)."),
    creator: Optional[str] = typer.Option(None, help="Creator of the works (default: the artist tag)."),
    title: Optional[str] = typer.Option(None, help="Title (one file only; default: the title tag, else the file name)."),
    terms: str = typer.Option("deny", help="AI-use terms: deny, allow or license."),
    price: Optional[float] = typer.Option(None, help="Licence price per work (with --terms license)."),
    currency: Optional[str] = typer.Option(None, help="ISO 4217 currency of --price, e.g. EUR."),
    copyright_registered: Optional[str] = typer.Option(None, "--copyright-registered", help="Effective date of a US copyright registration (YYYY-MM-DD)."),
    published: Optional[str] = typer.Option(None, "--published", help="Date of first publication (YYYY-MM-DD)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Parallel processes (default and most: one per core, "
                                          "and one per file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    melody: Optional[bool] = typer.Option(None, "--melody/--no-melody", help="Transcribe and store each work's melody for "
                                          "the melody check (default: on; the model ships with consentry)."),
) -> None:
    """Register audio files with their AI-use terms (idempotent: same content is not registered twice).

    Works are committed in batches. Ctrl-C or SIGTERM stops within two
    seconds and keeps every batch committed; run the same command again to
    register the rest (exit code 130, or 143 for SIGTERM).
    """
    with stop_on_signals():
        try:
            summary = _register(paths, creator=creator, title=title, terms=terms, price=price, currency=currency,
                                copyright_registered=copyright_registered, published=published, workers=workers,
                                melody=melody)
        except Interrupted as exc:
            batches, works = exc.kept.get("batches", 0), exc.kept.get("works", 0)
            err_console.print(f"interrupted: {batches} batch{'' if batches == 1 else 'es'} ({works} "
                              f"work{'' if works == 1 else 's'}) committed; run the same command again to resume",
                              highlight=False)
            raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps({
            "registered": [w.as_dict() for w in summary.registered],
            "duplicates": [{"path": p, "work_id": w} for p, w in summary.duplicates],
            "errors": [{"path": p, "error": e} for p, e in summary.errors],
            "melody_errors": [{"path": p, "error": e} for p, e in summary.melody_errors],
            "claims": [c.as_dict(with_events=False) for c in summary.claims],
            "seconds": round(summary.seconds, 3),
            "workers": summary.workers.as_dict() if summary.workers else None,
        }))
    else:
        for path, reason in summary.errors:
            err_console.print(f"[yellow]skipped[/] {path}: {reason}", highlight=False)
        for path, reason in summary.melody_errors:
            err_console.print(f"[yellow]no melody stored[/] {path}: {reason}", highlight=False)
        hours = summary.audio_s / 3600
        console.print(
            f"[green]registered {len(summary.registered)}[/] work(s) ({hours:.2f} h of audio) in {summary.seconds:.1f} s; "
            f"{len(summary.duplicates)} already registered; {len(summary.errors)} skipped with errors.",
            highlight=False,
        )
        for c in summary.claims:
            console.print(f"[yellow]claim {c.claim_id}[/]: {c.events[0].note}; {c.party_b} must answer by "
                          f"{c.answer_due_at[:10]} (`consentry claims show {c.claim_id}`); until then both works' "
                          "terms are reported as disputed", highlight=False)
    if summary.errors and not summary.registered and not summary.duplicates:
        raise typer.Exit(EXIT_ERROR)


def say_workers(count, *, items_name: str) -> None:
    """Tell the user, on standard error, that a --workers request was lowered (consentry.runtime.pools)."""
    if count.lowered:
        err_console.print(count.describe(items_name=items_name), highlight=False)


def _register(paths, *, creator, title, terms, price, currency, copyright_registered, published, workers, melody):
    if melody is None:
        from consentry.services.check.engines import melody_engine_id
        from consentry.engines.melody import ModelUnavailable

        try:
            melody_engine_id()
            melody = True
        except ModelUnavailable as exc:
            err_console.print(f"[yellow]warning[/]: melodies not stored ({exc})", highlight=False)
            melody = False
    with _open() as reg, _progress() as bar:
        from consentry.services.accounts import refuse_unbound_holder

        refuse_unbound_holder(reg.store, creator)  # a name a signed-up account took, unbound (docs/server.md, roles)
        task = bar.add_task("fingerprinting", total=None, current="")

        def on_progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, current=Path(path).name if path else "")

        return reg.register(
            [str(p) for p in paths], creator=creator, title=title, terms=terms, price=price, currency=currency,
            copyright_registered_on=copyright_registered, first_published_on=published, workers=workers, progress=on_progress,
            melody=melody, on_workers=lambda count: say_workers(count, items_name="files to fingerprint"),
        )


@app.command()
def identify(
    queries: List[Path] = typer.Argument(..., help="Audio files to search for registered works."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per query, one per line."),
    min_score: Optional[float] = typer.Option(None, help="Fewest consistent hash matches to report (default: the engine's calibrated threshold)."),
    fail_on_match: bool = typer.Option(False, "--fail-on-match", help="Exit with 2 if any query contains a registered work."),
) -> None:
    """Find every registered work that occurs in each query, with the matched segment."""
    any_error = False
    any_match = False
    with _open(create=False) as reg:
        for result in reg.identify_many([str(q) for q in queries], min_score=min_score):
            any_error |= result.error is not None
            any_match |= bool(result.matches)
            if as_json:
                typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            else:
                _print_result(result)
    if any_error:
        raise typer.Exit(EXIT_ERROR)
    if fail_on_match and any_match:
        raise typer.Exit(EXIT_FINDINGS)


def _fmt_time(s: float) -> str:
    tenths = int(round(max(0.0, s) * 10))
    m, t = divmod(tenths, 600)
    return f"{m}:{t // 10:02d}.{t % 10}"


def _print_result(result) -> None:
    if result.error is not None:
        err_console.print(f"[red]error[/] {result.query}: {result.error}", highlight=False)
        return
    if not result.matches:
        console.print(f"[bold]{result.query}[/]: no registered work found", highlight=False)
        return
    table = Table(title=f"{result.query}", title_justify="left", show_lines=False)
    for col, kw in (("work", {}), ("creator", {}), ("terms", {}), ("query", {"justify": "right"}), ("work segment", {"justify": "right"}),
                    ("speed", {"justify": "right"}), ("pitch", {"justify": "right"}), ("score", {"justify": "right"}), ("conf.", {"justify": "right"})):
        table.add_column(col, **kw)
    for m in result.matches:
        table.add_row(
            f"{m.title} [dim]{m.work_id[:8]}[/]",
            m.creator or "",
            m.terms,
            f"{_fmt_time(m.query_start_s)}-{_fmt_time(m.query_end_s)}",
            f"{_fmt_time(m.work_start_s)}-{_fmt_time(m.work_end_s)}",
            f"{m.speed:.3f}",
            f"{m.pitch_shift_semitones:+.2f} st",
            f"{m.score:.0f}",
            f"{m.confidence:.2f}",
        )
    console.print(table)


@works_app.command("list")
def works_list(
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one per work."),
    removed: bool = typer.Option(False, "--removed", help="Include removed works."),
) -> None:
    """List registered works."""
    with _open(create=False) as reg:
        works = reg.works(include_removed=removed)
    if as_json:
        for w in works:
            typer.echo(json.dumps(w.as_dict(), ensure_ascii=False))
        return
    table = Table()
    for col in ("id", "title", "creator", "terms", "duration", "registered"):
        table.add_column(col)
    for w in works:
        table.add_row(w.work_id, w.title, w.creator or "", w.terms.describe() + (" (removed)" if w.removed_at else ""),
                      _fmt_time(w.duration_s), w.registered_at)
    console.print(table)
    console.print(f"{len(works)} work(s)")


@works_app.command("show")
def works_show(work_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one work (an unambiguous id prefix is enough)."""
    from consentry.services.claims import work_dispute

    with _open(create=False) as reg:
        w = reg.work(work_id)
        dispute = work_dispute(reg, w.work_id)
    shown = {**w.as_dict(), "disputed": dispute is not None}
    if dispute is not None:  # docs/claims.md: the strictest of the parties' terms are reported
        shown["dispute"] = dispute
    if as_json:
        typer.echo(json.dumps(shown, ensure_ascii=False))
        return
    table = Table(show_header=False)
    for k, v in shown.items():
        if k != "dispute":
            table.add_row(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v))
    console.print(table)
    if dispute is not None:
        console.print(f"[bold red]DISPUTED[/] ({', '.join(dispute['claims'])}): {dispute['note']}", highlight=False)


def _cli_acted_by():
    """Who makes a change from the command line, as the audit log records it: ``cli:<user>``."""
    import getpass

    from consentry.services.works import ActedBy

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: the uid will do
        user = str(os.getuid())
    return ActedBy(name=f"cli:{user}")


@works_app.command("remove")
def works_remove(work_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Remove a work: it is no longer matched; the record stays, marked removed."""
    from consentry.services.works import remove_work

    with _open(create=False) as reg:
        w = remove_work(reg, work_id, by=_cli_acted_by())
    if as_json:
        typer.echo(json.dumps(w.as_dict(), ensure_ascii=False))
    else:
        console.print(f"removed {w.work_id} ({w.title})", highlight=False)


@app.command()
def stats(as_json: bool = typer.Option(False, "--json")) -> None:
    """Works, hours of audio, index size and engine version."""
    with _open(create=False) as reg:
        s = reg.stats()
    if as_json:
        typer.echo(json.dumps(s))
        return
    table = Table(show_header=False)
    table.add_row("registry", s["registry"])
    table.add_row("works", f"{s['works']} ({s['removed_works']} removed)")
    table.add_row("audio", f"{s['hours']:.2f} h")
    table.add_row("engine", f"{s['engine']['name']} v{s['engine']['version']} ({s['engine']['param_hash']})")
    table.add_row("index", f"{s['index_entries']:,} hashes in {s['index_segments']} segment(s), {s['index_bytes'] / 1e6:.2f} MB "
                  f"({s['index_bytes_per_hour'] / 1e6:.2f} MB per hour)")
    table.add_row("works needing re-index", str(s["works_needing_reindex"]))
    console.print(table)


@app.command()
def compact() -> None:
    """Merge index segments and drop the entries of removed works."""
    with _open(create=False) as reg:
        n = reg.compact()
    console.print(f"merged {n} segment(s)")


@app.command()
def backup(
    dest: Path = typer.Argument(..., help="The new registry file to write (its index goes to DEST.index/)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Copy the registry while it is in use (safe beside `consentry serve`; never copy it with cp).

    The database is copied with SQLite's online backup and checked; the index
    segments are linked or copied. The evidence signing key (evidence-key.pem
    beside the registry) is not copied: keep it with your other secrets.
    """
    with _open(create=False) as reg:
        done = reg.backup(dest)
    if as_json:
        typer.echo(json.dumps(done))
        return
    console.print(f"backed up {done['works']} work(s) and {done['segments']} index segment(s) to {done['registry']} "
                  f"({done['bytes'] / 1e6:.1f} MB); integrity check ok")


@app.command()
def demo(
    keep: Optional[Path] = typer.Option(None, help="Keep the demo registry and media in this folder (default: a temporary folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome of each demo query as JSON lines."),
) -> None:
    """Build a small synthesised catalogue, alter copies of it, and identify them (no download)."""
    from consentry.adapters.cli.demo import run_demo

    ok = run_demo(console=console, keep=keep, as_json=as_json)
    if not ok:
        raise typer.Exit(EXIT_ERROR)


from consentry.adapters.cli import audit as _audit  # noqa: E402,F401  (registers scan, scans, ledger, summary, terms)
from consentry.adapters.cli import signals as _signals  # noqa: E402,F401  (registers publish, embed, verify)
from consentry.adapters.cli import check as _check  # noqa: E402,F401  (registers check, voices, evidence, works melodies)
from consentry.adapters.cli import claims as _claims  # noqa: E402,F401  (registers claims)
from consentry.adapters.cli import server as _server  # noqa: E402,F401  (registers serve, accounts, tokens)


def main() -> None:
    start_done()
    debug = "--debug" in sys.argv
    try:
        app()
    except ConsentryError as exc:
        if debug:
            raise
        from consentry.adapters.cli.wording import cli_message

        err_console.print(f"[red]error:[/] {cli_message(exc)}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt as exc:
        err_console.print("interrupted; the registry keeps every batch committed so far", highlight=False)
        sys.exit(getattr(exc, "exit_code", 130))
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, details with --debug
        if debug:
            raise
        err_console.print(f"[red]internal error:[/] {type(exc).__name__}: {exc} (run again with --debug for details)",
                          highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    # Run the canonical module (``consentry.adapters.cli.main``), on whose ``app`` the
    # other command modules register their commands.
    from consentry.adapters.cli.main import main as _canonical_main

    _canonical_main()

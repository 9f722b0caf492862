"""``consentry works``: the registered works (list, show, remove, set dates, store melodies)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from consentry.adapters.cli.main import (
    EXIT_ERROR, _cli_acted_by, _open, _progress, app, console, err_console, say_workers,
)
from consentry.domain.errors import InputError
from consentry.runtime.interrupts import Interrupted, stop_on_signals

works_app = typer.Typer(help="Registered works: list, show, remove, set dates, store melodies.", no_args_is_help=True)
app.add_typer(works_app, name="works")


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
    from consentry.engines import medium_of_engine
    from consentry.reporting.format import format_length

    table = Table()
    for col in ("id", "title", "creator", "terms", "length", "registered"):
        table.add_column(col)
    for w in works:
        table.add_row(w.work_id, w.title, w.creator or "", w.terms.describe() + (" (removed)" if w.removed_at else ""),
                      format_length(w.duration_s, medium_of_engine(w.engine)), w.registered_at)
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


@works_app.command("set")
def works_set(
    work_id: str,
    copyright_registered: Optional[str] = typer.Option(None, "--copyright-registered", help="Effective date of the US copyright registration (YYYY-MM-DD)."),
    published: Optional[str] = typer.Option(None, "--published", help="Date of first publication (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record a work's registration and publication dates (used by the exposure estimate, 17 U.S.C. 412)."""
    if copyright_registered is None and published is None:
        raise InputError("give --copyright-registered and/or --published")
    with _open(create=False) as reg:
        w = reg.set_work_dates(work_id, copyright_registered_on=copyright_registered, first_published_on=published)
    if as_json:
        typer.echo(json.dumps(w.as_dict(), ensure_ascii=False))
    else:
        console.print(f"{w.work_id} ({w.title}): registered {w.copyright_registered_on or '?'}, published {w.first_published_on or '?'}",
                      highlight=False)


@works_app.command("melodies")
def works_melodies(
    workers: Optional[int] = typer.Option(None, min=1, help="Parallel processes (default and most: one per core, "
                                          "and one per work)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Transcribe and store the melody of every work that has none (for the melody check).

    Ctrl-C or SIGTERM stops within two seconds and keeps the melodies stored
    so far; run it again for the rest (exit code 130, or 143 for SIGTERM).
    """
    from consentry.services.check.service import compute_missing_melodies

    with stop_on_signals(), _open(create=False) as reg, _progress() as bar:
        task = bar.add_task("transcribing", total=None, current="")
        try:
            done = compute_missing_melodies(
                reg, workers=workers, progress=lambda d, t, name: bar.update(task, completed=d, total=t, current=name),
                on_workers=lambda count: say_workers(count, items_name="works"))
        except Interrupted as exc:
            n = exc.kept.get("melodies", 0)
            err_console.print(f"interrupted: {n} melod{'y' if n == 1 else 'ies'} stored; run the same command again "
                              "to resume", highlight=False)
            raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps({"computed": done.computed, "errors": [{"work_id": w, "error": e} for w, e in done.errors],
                               "seconds": round(done.seconds, 3)}))
    else:
        for _, reason in done.errors:
            err_console.print(f"[yellow]skipped[/] {reason}", highlight=False)
        console.print(f"stored {len(done.computed)} melody(ies) in {done.seconds:.1f} s; {len(done.errors)} skipped", highlight=False)
    if done.errors and not done.computed:
        raise typer.Exit(EXIT_ERROR)

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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional

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

HELP = """Consentry: register works (music, texts, images) with their AI-use terms and find them in datasets,
queries and AI outputs.

Exit codes: 0 ok, 1 error, 2 findings you asked to fail on (--fail-on of identify, scan, check and verify),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Output: a readable table for people; --json prints JSON to standard output instead (JSON lines when there are
several records); --json-out PATH writes the same JSON to a file (scan, scans show, identify, check)."""

app = typer.Typer(help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

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
    paths: List[Path] = typer.Argument(..., help="Audio, text and image files, article tables (JSONL/CSV/Parquet, one work per row) and folders (searched recursively)."),
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
    """Register works (music, texts, images) with their AI-use terms (idempotent: same content is not registered twice).

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
            "warnings": [{"path": p, "warning": w} for p, w in summary.warnings],
            "claims": [c.as_dict(with_events=False) for c in summary.claims],
            "seconds": round(summary.seconds, 3),
            "workers": summary.workers.as_dict() if summary.workers else None,
        }))
    else:
        for path, reason in summary.errors:
            err_console.print(f"[yellow]skipped[/] {path}: {reason}", highlight=False)
        for path, reason in summary.melody_errors:
            err_console.print(f"[yellow]no melody stored[/] {path}: {reason}", highlight=False)
        for path, reason in summary.warnings:
            err_console.print(f"[yellow]warning[/] {path}: registered, but {reason}", highlight=False)
        if not summary.registered and not summary.duplicates and not summary.errors:
            _say_nothing_to_register(paths)
            raise typer.Exit(EXIT_ERROR)
        console.print(
            f"[green]registered {len(summary.registered)}[/] work(s){_what_registered(summary)} in "
            f"{summary.seconds:.1f} s; {len(summary.duplicates)} already registered; {len(summary.errors)} skipped "
            "with errors.",
            highlight=False,
        )
        for c in summary.claims:
            console.print(f"[yellow]claim {c.claim_id}[/]: {c.events[0].note}; {c.party_b} must answer by "
                          f"{c.answer_due_at[:10]} (`consentry claims show {c.claim_id}`); until then both works' "
                          "terms are reported as disputed", highlight=False)
    if summary.errors and not summary.registered and not summary.duplicates:
        raise typer.Exit(EXIT_ERROR)


def _what_registered(summary) -> str:
    """`` (2 recordings, 0.08 h of audio; 1 text, 20,709 characters)``: the works registered by medium, or ""."""
    from consentry.reporting.format import format_media

    media = summary.media()
    return f" ({format_media(media)})" if media else ""


def _say_nothing_to_register(paths) -> None:
    """Why a register run found nothing: the folders held no file of a medium Consentry reads; name what was there."""
    from consentry.io.decode import AUDIO_EXTENSIONS
    from consentry.services.media import folder_extensions

    readable = AUDIO_EXTENSIONS | folder_extensions()
    others: list[Path] = []
    for given in paths:
        folder = Path(given).expanduser()
        if folder.is_dir():
            for root, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                others += [Path(root) / f for f in sorted(files)
                           if not f.startswith(".") and os.path.splitext(f)[1].lower() not in readable]
    where = ", ".join(str(p) for p in paths)
    kinds = "audio (WAV, FLAC, MP3, Ogg, Opus, M4A/AAC, AIFF, the sound of videos) or another medium it reads"
    if others:
        shown = ", ".join(p.name for p in others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        err_console.print(f"nothing registered: no file to register in {where}; skipped {len(others)} other file"
                          f"{'' if len(others) == 1 else 's'} ({shown}). Consentry registers {kinds}.", highlight=False)
    else:
        err_console.print(f"nothing registered: {where} holds no file (hidden files are skipped). Consentry "
                          f"registers {kinds}.", highlight=False)


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

        refuse_unbound_holder(reg, creator)  # a name a signed-up account took, unbound (docs/server.md, roles)
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
    queries: List[Path] = typer.Argument(..., help="Audio, text or image files to search for registered works."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per query, one per line, instead of the table."),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="Also write the JSON lines to this file."),
    min_score: Optional[float] = typer.Option(None, help="Fewest consistent hash matches to report (default: the engine's calibrated threshold)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="match: exit with 2 if any query contains a registered work."),
    fail_on_match: bool = typer.Option(False, "--fail-on-match", hidden=True, help="Deprecated: --fail-on match."),
) -> None:
    """Find every registered work that occurs in each query, with where it occurs (in the query and in the work).

    The table shows one row per work found, with every segment where it was found; --json gives one object per
    query with one match per segment (README).  Exit codes: 0 ok; 1 a query could not be read (the others still
    are) or another error; 2 a registered work was found, with --fail-on match.
    """
    fail = fail_option(fail_on, fail_on_match, choices=("match",), old="--fail-on-match", new="--fail-on match")
    any_error = False
    any_match = False
    warned: set[str] = set()
    with _open(create=False) as reg, json_sink(json_out) as sink:
        for result in reg.identify_many([str(q) for q in queries], min_score=min_score):
            any_error |= result.error is not None
            any_match |= bool(result.matches)
            if result.unsearched_works and result.medium not in warned:  # once per medium, on standard error
                from consentry.services.media import unsearched_note

                warned.add(result.medium)
                err_console.print(unsearched_note(result.medium, result.unsearched_works), highlight=False, soft_wrap=True)
            line = json.dumps(result.as_dict(), ensure_ascii=False)
            if sink is not None:
                sink.write(line + "\n")
            if as_json:
                typer.echo(line)
            else:
                _print_result(result)
    if any_error:
        raise typer.Exit(EXIT_ERROR)
    if fail and any_match:
        raise typer.Exit(EXIT_FINDINGS)


def fail_option(value: str | None, old_flag: bool, *, choices: tuple[str, ...], old: str, new: str) -> str | None:
    """The one ``--fail-on WHAT`` convention: ``value`` checked against ``choices``; the command's old flag
    (``old``, deprecated) still works, with a note on standard error that says what to write instead."""
    if value is not None and value not in choices:
        raise InputError(f"--fail-on {value!r}: choose {' or '.join(choices)}")
    if old_flag:
        err_console.print(f"note: {old} is deprecated; write {new}", highlight=False)
        return value or new.split()[-1]
    return value


@contextmanager
def json_sink(path) -> Iterator:
    """The file ``--json-out PATH`` names, written whole or not at all (``-``: standard output; None: nothing)."""
    if path is None:
        yield None
        return
    if str(path) == "-":
        yield sys.stdout
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise InputError(f"--json-out {path}: is a folder; give a file name")
    if not p.parent.exists():
        raise InputError(f"--json-out {path}: folder {p.parent} does not exist")
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh
    tmp.replace(p)


#: Commands whose ``--json`` took a file before the one convention (``--json`` prints, ``--json-out PATH`` writes):
#: ``--json PATH`` still means ``--json-out PATH`` there, with a deprecation note.
LEGACY_JSON_PATH = {("scan",), ("check",), ("scans", "show")}
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".txt")


def legacy_json_path(argv: list[str]) -> list[str]:
    """``argv`` with the deprecated ``--json PATH`` of :data:`LEGACY_JSON_PATH` commands written ``--json-out PATH``.

    ``--json=PATH`` always is the old form; ``--json PATH`` when PATH is ``-``, ends in a JSON suffix or does not
    exist yet (an input that exists, such as a dataset, is the command's argument and ``--json`` the new flag).
    """
    words, i = [], 0
    while i < len(argv) and len(words) < 2:  # the command words, after the root options (--registry takes a value)
        if argv[i] == "--registry":
            i += 1
        elif not argv[i].startswith("-"):
            words.append(argv[i])
        i += 1
    command = tuple(words[:2]) if words[:1] == ["scans"] else tuple(words[:1])
    if command not in LEGACY_JSON_PATH:
        return argv
    out, i, changed = [], 0, False
    while i < len(argv):
        a = argv[i]
        if a.startswith("--json="):
            out.append("--json-out=" + a.split("=", 1)[1])
            changed = True
        elif a == "--json" and i + 1 < len(argv) and (argv[i + 1] == "-" or (
                not argv[i + 1].startswith("-") and (argv[i + 1].lower().endswith(JSON_SUFFIXES)
                                                    or not Path(argv[i + 1]).exists()))):
            out += ["--json-out", argv[i + 1]]
            i += 1
            changed = True
        else:
            out.append(a)
        i += 1
    if changed:
        err_console.print(f"note: `consentry {' '.join(command)} --json PATH` is deprecated; write --json-out PATH "
                          "(--json alone prints the JSON)", highlight=False)
    return out


def _fmt_time(s: float) -> str:
    tenths = int(round(max(0.0, s) * 10))
    m, t = divmod(tenths, 600)
    return f"{m}:{t // 10:02d}.{t % 10}"


def _segment_text(seg: dict) -> str:
    if "query_box" in seg:  # an image: boxes [x0, y0, x1, y1] in each image's pixels (docs/images.md)
        t = seg.get("transform") or {}
        alt = [f"x{float(t.get('scale') or 1.0):.2f}"] + ([f"{float(t['rotation_deg']):+.1f} deg"]
                                                         if abs(float(t.get("rotation_deg") or 0.0)) >= 0.5 else [])
        alt += ["mirrored"] if t.get("mirrored") else []
        if seg.get("work_share") is not None:  # the matched points' box: a small share is a part, e.g. a logo
            alt += [f"matched {100 * float(seg['work_share']):.0f} % of the work"]
        q, w = ([int(round(v)) for v in seg[k]] for k in ("query_box", "work_box"))
        return f"px {q[0]},{q[1]}-{q[2]},{q[3]} = {w[0]},{w[1]}-{w[2]},{w[3]} ({', '.join(alt)})"
    if "query_start_char" in seg:  # a text passage: character offsets in each side's extracted text (docs/text.md)
        return (f"chars {seg['query_start_char']:,}-{seg['query_end_char']:,} = {seg['work_start_char']:,}-"
                f"{seg['work_end_char']:,} ({seg.get('matched_words', 0)} words)")
    if "query_start_s" not in seg:  # another medium without times: its extents as given
        q, w = seg.get("query_extent") or {}, seg.get("work_extent") or {}
        return f"{q.get('start')}-{q.get('end')} = {w.get('start')}-{w.get('end')} {q.get('unit') or ''}".strip()
    text = f"{_fmt_time(seg['query_start_s'])}-{_fmt_time(seg['query_end_s'])} = {_fmt_time(seg['work_start_s'])}-{_fmt_time(seg['work_end_s'])}"
    alt = []
    if abs(float(seg.get("speed") or 1.0) - 1.0) >= 0.005:
        alt.append(f"x{float(seg['speed']):.3f}")
    if abs(float(seg.get("pitch_shift_semitones") or 0.0)) >= 0.05:
        alt.append(f"{float(seg['pitch_shift_semitones']):+.1f} st")
    return text + (f" ({', '.join(alt)})" if alt else "")


def _print_result(result) -> None:
    """One query's findings: a row per work found (its segments under each other), readable at 80 columns."""
    if result.error is not None:
        err_console.print(f"[red]error[/] {result.query}: {result.error}", highlight=False)
        return
    if not result.matches:
        console.print(f"[bold]{result.query}[/]: no registered work found", highlight=False)
        return
    from consentry.reporting.findings import confidence_percent, confidence_words, group_matches

    found = group_matches(m.as_dict() for m in result.matches)
    where = ("the passage's characters in the query's and the work's text" if result.medium == "text"
             else "the matched region's box x0,y0-x1,y1 in the query's and the work's pixels"
             if result.medium == "image" else "the segment's place in the query and in the work (m:ss.s)")
    table = Table(title=f"{result.query}", title_justify="left", show_lines=len(found) > 1,
                  caption=f"query = work: {where}",
                  caption_justify="left")
    table.add_column("work", ratio=3, overflow="fold")
    table.add_column("terms", ratio=1, overflow="fold")
    table.add_column("query = work", no_wrap=True)
    table.add_column("how sure", ratio=2, overflow="fold")
    for f in found:
        table.add_row(f"{f['title']}\n[dim]{f.get('creator') or ''} {f['work_id'][:8]}[/]", str(f.get("terms") or ""),
                      "\n".join(_segment_text(s) for s in f["segments"]),
                      f"{confidence_words(f['confidence'])}\n{confidence_percent(f['confidence'])}")
    console.print(table)


def _cli_acted_by():
    """Who makes a change from the command line, as the audit log records it: ``cli:<user>``."""
    import getpass

    from consentry.services.works import ActedBy

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: the uid will do
        user = str(os.getuid())
    return ActedBy(name=f"cli:{user}")


@app.command()
def stats(as_json: bool = typer.Option(False, "--json")) -> None:
    """Works per medium, hours of audio, index size and engine version."""
    with _open(create=False) as reg:
        s = reg.stats()
    if as_json:
        typer.echo(json.dumps(s))
        return
    table = Table(show_header=False)
    table.add_row("registry", s["registry"])
    table.add_row("works", f"{s['works']} ({s['removed_works']} removed)")
    table.add_row("audio", f"{s['hours']:.2f} h")
    from consentry.reporting.format import format_length

    for medium, m in s["media"].items():
        if medium != "music":
            table.add_row(f"{medium} works", f"{m['works']:,} ({format_length(m['size'], medium)})")
    table.add_row("engine", f"{s['engine']['name']} v{s['engine']['version']} ({s['engine']['param_hash']})")
    table.add_row("index", f"{s['index_entries']:,} hashes in {s['index_segments']} segment(s), {s['index_bytes'] / 1e6:.2f} MB "
                  f"({s['index_bytes_per_hour'] / 1e6:.2f} MB per hour)")
    table.add_row("works needing re-index", str(s["works_needing_reindex"]) + (
        " (run `consentry reindex`: recordings are found with their older engine meanwhile, texts and images only "
        "once re-indexed)" if s["works_needing_reindex"] else ""))
    console.print(table)


@app.command()
def compact() -> None:
    """Merge index segments and drop the entries of removed works."""
    with _open(create=False) as reg:
        n = reg.compact()
    console.print(f"merged {n} segment(s)")


@app.command()
def reindex(as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")) -> None:
    """Re-fingerprint works registered with an older engine of their medium, from their stored source files.

    Until then recordings are still found, with the engine they were
    registered with; texts and images are found again once re-indexed. Works are committed in batches: Ctrl-C or SIGTERM stops
    within two seconds and keeps what was committed; run it again to go on.
    Exit codes: 0 all done, 1 some works could not be re-indexed (their source
    is missing or changed; listed), 130/143 interrupted.
    """
    from consentry.services.reindex import reindex as run_reindex, works_to_reindex

    with stop_on_signals(), _open(create=False) as reg:
        total = len(works_to_reindex(reg))
        try:
            with _progress() as bar:
                task = bar.add_task("re-indexing", total=total, current="")
                summary = run_reindex(reg, progress=lambda done, _total: bar.update(task, completed=done))
        except Interrupted as exc:
            left = len(works_to_reindex(reg))
            err_console.print(f"interrupted: {total - left} of {total} works re-indexed and kept; run `consentry reindex` "
                              "again to go on", highlight=False)
            raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    else:
        for work_id, reason in summary.failed:
            err_console.print(f"[yellow]not re-indexed[/] {work_id}: {reason}", highlight=False)
        used = ", ".join(f"{n} with {name}" for name, n in sorted(summary.engines.items())) or "none"
        console.print(f"re-indexed {summary.reindexed} work(s) ({used}); {summary.remaining} left; "
                      f"{summary.dropped_segments} old index segment(s) dropped", highlight=False)
    if summary.failed:
        raise typer.Exit(EXIT_ERROR)


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


from consentry.adapters.cli import works as _works  # noqa: E402,F401  (registers works)
from consentry.adapters.cli import audit as _audit  # noqa: E402,F401  (registers scan, scans, ledger, summary, terms)
from consentry.adapters.cli import signals as _signals  # noqa: E402,F401  (registers publish, embed, verify)
from consentry.adapters.cli import check as _check  # noqa: E402,F401  (registers check, voices, evidence)
from consentry.adapters.cli import claims as _claims  # noqa: E402,F401  (registers claims)
from consentry.adapters.cli import server as _server  # noqa: E402,F401  (registers serve, accounts, tokens)


def main() -> None:
    start_done()
    debug = "--debug" in sys.argv
    try:
        app(args=legacy_json_path(sys.argv[1:]))
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

"""CLI of the dataset audit: ``scan``, ``scans``, ``ledger``, ``summary``, ``terms``.

Thin: every command calls :mod:`consentry.services.scan`, :mod:`consentry.services.accounting`
or the report renderers, and prints.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.table import Table
from typer.core import TyperGroup

from consentry.domain.errors import InputError
from consentry.runtime.interrupts import Interrupted, stop_on_signals
from consentry.domain.audit import FAIL_ON, ITEM_DECISIONS
from consentry.adapters.cli.main import (
    EXIT_ERROR, EXIT_FINDINGS, _fmt_time, _open, _progress, app, console, err_console, say_workers,
)

scans_app = typer.Typer(help="List, show, re-report and compare stored dataset scans.", no_args_is_help=True)
app.add_typer(scans_app, name="scans")
terms_app = typer.Typer(help="Show and change a work's AI-use terms (every change is a new version).", no_args_is_help=True)
app.add_typer(terms_app, name="terms")


class _LedgerGroup(TyperGroup):
    """``consentry ledger SCAN_ID`` is short for ``consentry ledger show SCAN_ID``."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


ledger_app = typer.Typer(
    cls=_LedgerGroup, no_args_is_help=True,
    help="What licensees owe creators: statements from a scan or the ledger; record uses; verify the hash chain.\n\n"
         "consentry ledger SCAN_ID --statements DIR is short for consentry ledger show SCAN_ID --statements DIR.",
)
app.add_typer(ledger_app, name="ledger")

DECISION_STYLE = {"refused": "red", "licensable": "yellow", "allowed": "green", "unknown": "dim", "error": "magenta"}


@contextmanager
def _output(path: str) -> Iterator:
    """A text file to write (``-`` is standard output)."""
    if path == "-":
        yield sys.stdout
        return
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a file name")
    if not p.parent.exists():
        raise InputError(f"{p}: folder {p.parent} does not exist")
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh
    tmp.replace(p)


def _write_reports(reg, scan_id: str, summary: dict, *, report: str | None, json_out: str | None, csv_out: str | None) -> None:
    from consentry.reporting.scan_report import render_scan_html, write_scan_csv, write_scan_json
    from consentry.services.scan import scan_items

    if report:
        with _output(report) as fh:
            fh.write(render_scan_html(summary, scan_items(reg, scan_id)))
    if json_out:
        with _output(json_out) as fh:
            write_scan_json(summary, scan_items(reg, scan_id), fh)
    if csv_out:
        with _output(csv_out) as fh:
            write_scan_csv(scan_items(reg, scan_id), fh)


def _money(amounts: dict) -> str:
    return ", ".join(f"{v:,.2f} {c}" for c, v in sorted(amounts.items())) or "none"


def _one_stdout(as_json: bool, json_out: str | None, *others: str | None) -> str | None:
    """``--json`` is ``--json-out -``; standard output can hold one of the reports only."""
    if as_json:
        if json_out not in (None, "-"):
            raise InputError("--json prints the JSON report and --json-out writes it to a file: give one of them")
        json_out = "-"
    if [json_out, *others].count("-") > 1:
        raise InputError("only one report can go to standard output (-); write the others to files")
    return json_out


def _say_skipped(skipped: dict) -> None:
    """What the dataset held that is not media, counted by reason (on standard error)."""
    n = sum(skipped.values())
    if n:
        reasons = "; ".join(f"{count:,} {reason}" for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1])[:5])
        err_console.print(f"skipped {n:,} file{' that is' if n == 1 else 's that are'} not media: {reasons}", highlight=False)


def _say_unsearched(unsearched: dict) -> None:
    """Registered works the scan could not find (an older engine version indexed them), one line per medium."""
    from consentry.services.media import unsearched_note

    for medium, n in sorted(unsearched.items()):
        err_console.print(unsearched_note(medium, n) + "; their items may be decided 'unknown' here", highlight=False)


def _print_summary(summary: dict, *, to_stderr: bool = False) -> None:
    out = err_console if to_stderr else console
    t = summary["totals"]
    head = Table(show_header=False, title=f"scan {summary['scan_id']} ({summary['status']})", title_justify="left")
    head.add_row("source", f"{summary['source']['spec']} [dim]({summary['source']['kind']})[/]")
    from consentry.reporting.format import format_media

    read = format_media(t.get("media") or {}) or f"{t['audio_s'] / 3600:.2f} h of audio"
    head.add_row("items", f"{t['items']:,} ({read})")
    for d in ITEM_DECISIONS:
        share = t[d] / t["items"] if t["items"] else 0.0
        head.add_row(f"[{DECISION_STYLE[d]}]{d}[/]", f"{t[d]:,} ({share:.1%})")
    head.add_row("licence cost", _money(summary["licence_cost"]))
    ex = summary["exposure"]
    if ex["works_refused"]:
        head.add_row("exposure (estimate)", (
            f"{ex['works_refused']} refused work(s): USD {ex['range_usd']['min']:,}-{ex['range_usd']['max']:,} "
            f"for {ex['eligible']} eligible; up to USD {ex['range_usd_if_unknown_eligible']['max']:,} if the "
            f"{ex['unknown_registration']} of unknown registration are eligible (not legal advice)"))
    sig = summary.get("signals") or {}
    if sig.get("items_with_embedded") or sig.get("items_with_web"):
        head.add_row("AI-use signals", f"{sig['items_with_embedded']} item(s) carry embedded signals, {sig['items_with_web']} have web "
                     f"signals; {sig['disagreements']} disagree with the registry")
    if sig.get("items_declared_ai_generated"):
        head.add_row("declared AI-generated", f"{sig['items_declared_ai_generated']} item(s) declare themselves made by "
                     "generative AI (C2PA digitalSourceType or IPTC XMP DigitalSourceType)")
    head.add_row("dataset fingerprint", str(summary["dataset_fingerprint"]))
    out.print(head)
    if summary["works"]:
        table = Table(title="works found", title_justify="left")
        for col in ("work", "creator", "terms", "items", "covered"):
            table.add_column(col)
        for w in summary["works"][:20]:
            terms = w["decision"] if w["decision"] != "license" else f"license {w['price']:g} {w['currency']}"
            table.add_row(f"{w['title']} [dim]{w['work_id'][:8]}[/]", w["creator"] or "", f"{terms} (v{w['terms_version']})",
                          str(w["items"]), f"{int(w['covered_s']):,} chars" if w.get("medium") == "text"
                          else _fmt_time(w["covered_s"]))
        out.print(table)
        if len(summary["works"]) > 20:
            out.print(f"... and {len(summary['works']) - 20} more works (see the report)")
    for reason, n in list(summary["errors"]["by_reason"].items())[:5]:
        err_console.print(f"[magenta]{n} item(s)[/]: {reason}", highlight=False)


def _say_scan_interrupted(exc: Interrupted, source: str) -> None:
    import shlex

    resume = f"consentry scan {shlex.quote(source)} --resume"
    if "scan_id" in exc.kept:
        n = exc.kept.get("items", 0)
        err_console.print(f"scan {exc.kept['scan_id']} interrupted after {n:,} item{'' if n == 1 else 's'} (kept); "
                          f"resume with {resume}", highlight=False, soft_wrap=True)
    else:
        err_console.print(f"interrupted before any item was scanned; run the command again (or {resume} to go on "
                          "with an unfinished scan of this source)", highlight=False, soft_wrap=True)


@app.command()
def scan(
    source: str = typer.Argument(..., help="Folder, audio file, manifest (.csv/.jsonl/.parquet), tar shards (globs, {000..127}) or .zip."),
    report: Optional[str] = typer.Option(None, "--report", help="Write the HTML report here (self-contained)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report (summary and every item) instead of the table."),
    json_out: Optional[str] = typer.Option(None, "--json-out", help="Write the JSON report here (- for standard output)."),
    csv_out: Optional[str] = typer.Option(None, "--csv", help="Write one CSV row per item and finding here (- for standard output)."),
    clean_manifest: Optional[Path] = typer.Option(None, "--clean-manifest", help="Write the dataset without refused (and licensable) items here."),
    accept_licensed: bool = typer.Option(False, "--accept-licensed", help="Keep licensable items in the clean manifest (you pay the licences)."),
    keep_unreadable: bool = typer.Option(False, "--keep-unreadable", help="Keep items that could not be checked in the clean manifest."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit with 2 if items are refused, licensable, or any (refused, licensable or allowed)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Parallel processes (default and most: one per core)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the last unfinished scan of this source."),
    fetch_urls: bool = typer.Option(False, "--fetch-urls", help="Download http(s) items of a manifest (timeout, size cap, 4 at a time)."),
    path_column: Optional[str] = typer.Option(None, "--path-column", help="Manifest column with the audio (default: detected)."),
    text_column: Optional[str] = typer.Option(None, "--text-column", help="Read a text dataset whose texts are in this column (default: detected: text, content, body, ...)."),
    min_score: Optional[float] = typer.Option(None, help="Engine threshold (default: the calibrated one)."),
    no_embedded_signals: bool = typer.Option(False, "--no-embedded-signals", help="Do not read the AI-use signals embedded in the files (C2PA, XMP, tags)."),
    check_web_signals: bool = typer.Option(False, "--check-web-signals", help="Read the signals published for each item's URL (robots.txt, TDMRep, headers; once per site)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Read and identify the items on a Ray cluster: its head's host:port, or auto (RAY_ADDRESS, else a cluster started here); --workers caps the worker actors. Needs pip install 'consentry[ray]' (docs/cluster.md)."),
    index_shards: int = typer.Option(0, "--index-shards", min=0, envvar="CONSENTRY_INDEX_SHARDS", help="With --ray: serve the index from this many shard actors, split by work (0: each worker maps the whole index)."),
) -> None:
    """Audit a dataset: which registered works are in it, and on what terms may each item be used.

    Every item is decided under the terms in force when the scan starts:
    refused, licensable (with the price), allowed, unknown (no registered work
    found) or error. The scan is stored in the registry (`consentry scans`).

    Ctrl-C or SIGTERM stops within two seconds; every item decided so far is
    kept, and the same command with --resume goes on from there.

    Standard output holds only what was asked for: with --json, or a report
    written to - (--json-out -, --csv -), the table goes to standard error.

    Exit codes: 0 ok; 1 error; 2 items found that --fail-on names; 130
    interrupted (143 for SIGTERM).
    """
    from consentry.services.scan import scan_dataset, write_clean_manifest

    if fail_on is not None and fail_on not in FAIL_ON:
        raise InputError(f"--fail-on {fail_on!r}: choose refused, licensable or any")
    json_out = _one_stdout(as_json, json_out, report, csv_out)
    if index_shards and ray_address is None:
        raise InputError("--index-shards: give --ray too (the shards are served on a Ray cluster)")
    executor = None
    if ray_address is not None:
        from consentry.cluster.executor import RayExecutor

        executor = RayExecutor(ray_address, workers=workers, index_shards=index_shards)
    with _open(create=False) as reg, (executor if executor is not None else nullcontext()):
        with _progress(transient=True) as bar:
            task = bar.add_task("scanning", total=None, current="")

            def on_progress(done: int, item_id: str) -> None:
                bar.update(task, completed=done, current=item_id[-40:])

            def on_scan_id(scan_id: str, resumed: bool) -> None:
                if resume and not resumed:
                    err_console.print(f"nothing to resume: no unfinished scan of {source}; starting a new scan",
                                      highlight=False)
                err_console.print(f"{'resuming' if resumed else 'started'} scan {scan_id}", highlight=False)

            with stop_on_signals():
                try:
                    summary = scan_dataset(
                        reg, source, workers=workers, resume=resume, min_score=min_score, fetch_urls=fetch_urls,
                        path_column=path_column, text_column=text_column, progress=on_progress, on_scan_id=on_scan_id,
                        embedded_signals=not no_embedded_signals, check_web_signals=check_web_signals,
                        on_workers=lambda count: say_workers(count, items_name="items"), executor=executor)
                except Interrupted as exc:
                    _say_scan_interrupted(exc, source)
                    raise typer.Exit(exc.exit_code) from None
        scan_id = summary["scan_id"]
        _write_reports(reg, scan_id, summary, report=report, json_out=json_out, csv_out=csv_out)
        if clean_manifest is not None:
            written = write_clean_manifest(reg, scan_id, clean_manifest, accept_licensed=accept_licensed,
                                           keep_unreadable=keep_unreadable, fetch_urls=fetch_urls, path_column=path_column)
            err_console.print(f"clean manifest {written['path']} ({written['format']}): kept {written['kept']:,}, "
                              f"left out {written['dropped']:,}", highlight=False)
    _print_summary(summary, to_stderr="-" in (json_out, csv_out, report))
    _say_skipped(summary.get("skipped") or {})
    _say_unsearched((summary.get("options") or {}).get("unsearched_works") or {})
    if fail_on is not None and any(summary["totals"][d] for d in FAIL_ON[fail_on]):
        err_console.print(f"[red]failing[/]: items found that --fail-on {fail_on} names", highlight=False)
        raise typer.Exit(EXIT_FINDINGS)


@scans_app.command("list")
def scans_list(as_json: bool = typer.Option(False, "--json", help="JSON lines, one per scan.")) -> None:
    """List stored scans, newest first."""
    from consentry.services.scan import scans_of

    with _open(create=False) as reg:
        scans = scans_of(reg)
    if as_json:
        for s in scans:
            typer.echo(json.dumps({k: v for k, v in s.items() if k != "summary"} | {"totals": (s["summary"] or {}).get("totals")},
                                  ensure_ascii=False))
        return
    table = Table()
    for col in ("scan", "started", "status", "source", "items", "refused", "licensable", "errors"):
        table.add_column(col)
    for s in scans:
        t = (s["summary"] or {}).get("totals") or {}
        table.add_row(s["scan_id"], s["created_at"], s["status"], s["source_spec"], str(t.get("items", "")),
                      str(t.get("refused", "")), str(t.get("licensable", "")), str(t.get("error", "")))
    console.print(table)


@scans_app.command("show")
def scans_show(
    scan_id: str,
    report: Optional[str] = typer.Option(None, "--report", help="Write the HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report instead of the table."),
    json_out: Optional[str] = typer.Option(None, "--json-out", help="Write the JSON report here (- for standard output)."),
    csv_out: Optional[str] = typer.Option(None, "--csv", help="Write the CSV here (- for standard output)."),
    clean_manifest: Optional[Path] = typer.Option(None, "--clean-manifest", help="Write the clean manifest here (reads the dataset again)."),
    accept_licensed: bool = typer.Option(False, "--accept-licensed"),
    keep_unreadable: bool = typer.Option(False, "--keep-unreadable"),
) -> None:
    """Show a stored scan and regenerate its reports (an unambiguous id prefix is enough)."""
    from consentry.services.scan import scan_summary, write_clean_manifest

    json_out = _one_stdout(as_json, json_out, report, csv_out)
    with _open(create=False) as reg:
        summary = scan_summary(reg, scan_id)
        _write_reports(reg, summary["scan_id"], summary, report=report, json_out=json_out, csv_out=csv_out)
        if clean_manifest is not None:
            written = write_clean_manifest(reg, summary["scan_id"], clean_manifest, accept_licensed=accept_licensed,
                                           keep_unreadable=keep_unreadable)
            err_console.print(f"clean manifest {written['path']}: kept {written['kept']:,}, left out {written['dropped']:,}",
                              highlight=False)
    _print_summary(summary, to_stderr="-" in (json_out, csv_out, report))


@scans_app.command("diff")
def scans_diff(
    old: str = typer.Argument(..., help="The earlier scan."),
    new: str = typer.Argument(..., help="The later scan."),
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
) -> None:
    """Compare two scans: items whose decision changed, works found in one and not the other."""
    from consentry.services.scan import compare_scans

    with _open(create=False) as reg:
        diff = compare_scans(reg, old, new)
    if as_json:
        typer.echo(json.dumps(diff, ensure_ascii=False))
        return
    console.print(f"{diff['old']} -> {diff['new']}: {len(diff['changed'])} item(s) changed decision, "
                  f"{diff['only_old']} only in the first, {diff['only_new']} only in the second; "
                  f"same dataset: {'yes' if diff['same_dataset'] else 'no'}", highlight=False)
    for c in diff["changed"][:50]:
        console.print(f"  {c['item_id']}: {c['old']} -> {c['new']}", highlight=False)
    for w in diff["works_gone"]:
        console.print(f"  no longer found: {w['title']} ({w['work_id'][:8]})", highlight=False)
    for w in diff["works_new"]:
        console.print(f"  newly found: {w['title']} ({w['work_id'][:8]})", highlight=False)


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60]
    return s or "creator"


def _write_statements(statements: list[dict], folder: Path) -> list[Path]:
    from consentry.reporting.statements import render_statement_html, write_statement_csv

    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for st in statements:
        stem = _slug(st["creator"])
        while stem in used:
            stem += "-2"
        used.add(stem)
        with open(folder / f"{stem}.csv", "w", encoding="utf-8", newline="") as fh:
            write_statement_csv(st, fh)
        (folder / f"{stem}.html").write_text(render_statement_html(st), encoding="utf-8")
        written += [folder / f"{stem}.csv", folder / f"{stem}.html"]
    return written


@ledger_app.command("show")
def ledger_show(
    scan_id: Optional[str] = typer.Argument(None, help="A scan: what its licensable works cost. Without it: what the ledger records."),
    statements: Optional[Path] = typer.Option(None, "--statements", help="Write one CSV and one HTML statement per creator into this folder."),
    run: Optional[str] = typer.Option(None, "--run", help="Only this training run's ledger entries."),
    as_json: bool = typer.Option(False, "--json", help="Print the statements as JSON."),
) -> None:
    """What is owed, per creator and work: from a scan, or from the ledger's recorded uses."""
    from consentry.services.accounting import ledger_statements, scan_statements

    with _open(create=False) as reg:
        sts = scan_statements(reg, scan_id) if scan_id else ledger_statements(reg, run=run)
    if statements is not None:
        written = _write_statements(sts, statements)
        err_console.print(f"wrote {len(written)} statement file(s) to {statements}", highlight=False)
    if as_json:
        typer.echo(json.dumps(sts, ensure_ascii=False))
        return
    table = Table(title="owed" + (f" for scan {scan_id}" if scan_id else " (ledger)"), title_justify="left")
    for col in ("creator", "work", "terms v.", "price", "uses", "amount"):
        table.add_column(col)
    for st in sts:
        for line in st["lines"]:
            table.add_row(st["creator"], f"{line['title']} [dim]{line['work_id'][:8]}[/]", str(line["terms_version"]),
                          f"{line['price']:,.2f} {line['currency']}", str(line["uses"]), f"{line['amount']:,.2f} {line['currency']}")
    console.print(table)
    totals: dict[str, float] = {}
    for st in sts:
        for c, v in st["totals"].items():
            totals[c] = totals.get(c, 0.0) + v
    console.print(f"total: {_money(totals)}", highlight=False)


@ledger_app.command("record")
def ledger_record(
    run: str = typer.Option(..., "--run", help="Name of the training run that used the works."),
    scan: Optional[str] = typer.Option(None, "--scan", help="The scan of the dataset the run used: all its licensable works."),
    work: Optional[List[str]] = typer.Option(None, "--work", help="A licensed work the run used (repeatable)."),
    date: Optional[str] = typer.Option(None, "--date", help="When the use began (YYYY-MM-DD; default today)."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text kept with the entries."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record that a training run used licensed works: append-only, hash-chained ledger entries."""
    from consentry.services.ledger import ledger_head, record_use
    from consentry.adapters.cli.main import _cli_acted_by

    with _open(create=False) as reg:
        entries = record_use(reg, by=_cli_acted_by(), run=run, scan_id=scan, work_ids=list(work or []), used_on=date,
                             note=note)
        head = ledger_head(reg)
    if as_json:
        typer.echo(json.dumps({"entries": entries, "head": head}, ensure_ascii=False))
        return
    console.print(f"recorded {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}; ledger head {head}", highlight=False)


@ledger_app.command("list")
def ledger_list(as_json: bool = typer.Option(False, "--json", help="JSON lines, one per entry.")) -> None:
    """Every ledger entry, oldest first."""
    from consentry.services.accounting import ledger_entries

    with _open(create=False) as reg:
        entries = ledger_entries(reg)
    if as_json:
        for e in entries:
            typer.echo(json.dumps(e, ensure_ascii=False))
        return
    table = Table()
    for col in ("entry", "recorded", "run", "work", "creator", "amount", "hash"):
        table.add_column(col)
    for e in entries:
        table.add_row(e["entry_id"], e["recorded_at"], str(e.get("run")), f"{e.get('title')} [dim]{str(e.get('work_id'))[:8]}[/]",
                      str(e.get("creator") or ""), f"{e.get('amount', 0):,.2f} {e.get('currency')}", e["entry_hash"][:16])
    console.print(table)


@ledger_app.command("verify")
def ledger_verify(
    head: Optional[str] = typer.Option(None, "--head", help="SEQ:HASH of an entry published or given to you earlier."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check that no ledger entry was altered, deleted or inserted (exit 1 if one was)."""
    from consentry.services.accounting import verify_ledger

    with _open(create=False) as reg:
        result = verify_ledger(reg, head=head)
    if as_json:
        typer.echo(json.dumps(result))
    elif result["ok"]:
        console.print(f"[green]ledger intact[/]: {result['entries']} entries, head {result['head']}", highlight=False)
    else:
        for p in result["problems"]:
            err_console.print(f"[red]ledger damaged[/]: {p}", highlight=False)
    if not result["ok"]:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def summary(
    scan_ids: List[str] = typer.Argument(..., help="Scans of the datasets used for training."),
    declaration: Optional[Path] = typer.Option(None, "--declaration", help="YAML with what scans cannot know (provider, model, other sources); see examples/summary-declaration.yaml."),
    fmt: str = typer.Option("md", "--format", help="md, html or json."),
    out: str = typer.Option("-", "--out", help="Write here (default: standard output)."),
) -> None:
    """Draft the EU AI Act public summary of training content (Art. 53(1)(d), Commission template of July 2025)."""
    from consentry.reporting.summary import build_summary, load_declaration, render_summary
    from consentry.services.scan import scan_summary
    from consentry.domain.clock import now_iso as utc_now

    if fmt not in ("md", "html", "json"):
        raise InputError(f"--format {fmt!r}: choose md, html or json")
    declared = load_declaration(declaration) if declaration is not None else {}
    with _open(create=False) as reg:
        scans = [scan_summary(reg, s) for s in scan_ids]
    text = render_summary(build_summary(scans, declared, generated_at=utc_now()), fmt=fmt)
    with _output(out) as fh:
        fh.write(text)


# -- terms and work dates ------------------------------------------------------------
def _terms_table(title: str, effective, source: dict | None) -> Table:
    from consentry.domain.usage import USE_LABELS, USES

    table = Table(title=title, title_justify="left")
    for col in ("use", "terms", "contact / licence", "from"):
        table.add_column(col)
    for use in USES:
        t = effective.uses.get(use)
        if t is None:
            table.add_row(f"{use} [dim]({USE_LABELS[use]})[/]", "[dim](not set)[/]", "", "")
            continue
        table.add_row(f"{use} [dim]({USE_LABELS[use]})[/]", t.describe(), " ".join(x for x in (t.contact, t.licence_url) if x),
                      (source or {}).get(use, ""))
    return table


@terms_app.command("set")
def terms_set(
    work_id: Optional[str] = typer.Argument(None, help="The work (an unambiguous id prefix); or give --creator for a creator's default terms."),
    creator: Optional[str] = typer.Option(None, "--creator", help="Set this creator's default terms (for the uses their works leave open)."),
    use: Optional[List[str]] = typer.Option(None, "--use", help="ai_training, ai_generative, voice_likeness, tdm or search_indexing; repeatable (default: ai_training)."),
    terms: Optional[str] = typer.Option(None, "--terms", help="deny, allow or license."),
    price: Optional[float] = typer.Option(None, help="Licence price (with --terms license)."),
    currency: Optional[str] = typer.Option(None, help="ISO 4217 currency of --price."),
    unit: Optional[str] = typer.Option(None, help="What the price is for: per-work (default), per-item, per-minute, per-training-run; for texts per-article, per-1000-words."),
    contact: Optional[str] = typer.Option(None, help="Where to ask for a licence (https:// or mailto:)."),
    licence_url: Optional[str] = typer.Option(None, "--licence-url", help="The licence text (https://)."),
    valid_from: Optional[str] = typer.Option(None, "--valid-from", help="YYYY-MM-DD"),
    valid_until: Optional[str] = typer.Option(None, "--valid-until", help="YYYY-MM-DD"),
    jurisdiction: Optional[str] = typer.Option(None, help="Where the terms are meant to apply, e.g. EU, US, worldwide."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change AI-use terms: a new version is appended (never overwritten); scans keep the terms they were made under."""
    from consentry.domain.usage import USES, UseTerms

    if (work_id is None) == (creator is None):
        raise InputError("give a WORK_ID or --creator NAME (not both)")
    uses = list(use or ["ai_training"])
    bad = [u for u in uses if u not in USES]
    if bad:
        raise InputError(f"--use {bad[0]!r}: choose from {', '.join(USES)}")
    changes = {}
    if terms is not None:
        t = UseTerms(decision=terms, price=price, currency=currency, unit=unit, contact=contact, licence_url=licence_url)
        changes = {u: t for u in uses}
    elif any(v is not None for v in (price, currency, unit, contact, licence_url)):
        raise InputError("--price, --currency, --unit, --contact and --licence-url go with --terms")
    if not changes and not any(v is not None for v in (valid_from, valid_until, jurisdiction)):
        raise InputError("nothing to change: give --terms (and --use), or --valid-from/--valid-until/--jurisdiction")
    from consentry.services.works import set_creator_terms, set_work_terms
    from consentry.adapters.cli.main import _cli_acted_by

    with _open(create=False) as reg:
        if creator is not None:
            version, tv = set_creator_terms(reg, creator, changes, by=_cli_acted_by(), valid_from=valid_from,
                                            valid_until=valid_until, jurisdiction=jurisdiction)
            if as_json:
                typer.echo(json.dumps({"creator": creator, "version": version, **tv.as_dict()}, ensure_ascii=False))
            else:
                console.print(_terms_table(f"{creator}: default terms v{version}", tv, None))
            return
        shown = set_work_terms(reg, work_id, changes, by=_cli_acted_by(), valid_from=valid_from,
                               valid_until=valid_until, jurisdiction=jurisdiction)
    _print_work_terms(shown, as_json)


@terms_app.command("show")
def terms_show(
    work_id: Optional[str] = typer.Argument(None, help="The work; or give --creator."),
    creator: Optional[str] = typer.Option(None, "--creator", help="Show this creator's default terms."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The terms in force for every use of a work (and where each comes from), or a creator's defaults."""
    if (work_id is None) == (creator is None):
        raise InputError("give a WORK_ID or --creator NAME (not both)")
    from consentry.services.works import creator_terms

    with _open(create=False) as reg:
        if creator is not None:
            current = creator_terms(reg, creator)
            if current is None:
                raise InputError(f"--creator {creator!r}: no default terms set; see `consentry terms set --creator`")
            if as_json:
                typer.echo(json.dumps({"creator": creator, "version": current[0], **current[1].as_dict()}, ensure_ascii=False))
            else:
                console.print(_terms_table(f"{creator}: default terms v{current[0]}", current[1], None))
            return
        from consentry.services.works import work_terms

        shown = work_terms(reg, work_id)
    _print_work_terms(shown, as_json)


def _print_work_terms(shown, as_json: bool) -> None:
    """A work's terms in force (:class:`consentry.services.works.WorkTerms`): while disputed (docs/claims.md), the
    strictest of the parties' terms, and each party's own."""
    if as_json:
        typer.echo(json.dumps(shown.as_dict(), ensure_ascii=False))
        return
    from consentry.domain.usage import TermsVersion

    w, dispute = shown.work, shown.dispute
    if dispute is not None:
        console.print(f"[bold red]DISPUTED[/] ({', '.join(dispute['claims'])}): {dispute['note']}", highlight=False)
    console.print(_terms_table(f"{w.title} ({w.work_id}): terms v{w.terms_version}"
                               + (" (in force while disputed)" if dispute is not None else ""), shown.terms, shown.source))
    if dispute is not None:
        for p in dispute["parties"]:
            console.print(_terms_table(f"party {p['creator']} ({p['work_id']}): own terms",
                                       TermsVersion.from_dict(p["terms"]), None))


@terms_app.command("history")
def terms_history(
    work_id: Optional[str] = typer.Argument(None, help="The work; or give --creator."),
    creator: Optional[str] = typer.Option(None, "--creator"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one per version."),
) -> None:
    """Every terms version, oldest first (each as set, before defaults fill the uses it leaves open)."""
    if (work_id is None) == (creator is None):
        raise InputError("give a WORK_ID or --creator NAME (not both)")
    from consentry.services.works import creator_terms_history

    with _open(create=False) as reg:
        if creator is not None:
            history, key, label = creator_terms_history(reg, creator), {"creator": creator}, creator
        else:
            w = reg.work(work_id)
            history, key, label = reg.terms_history(w.work_id), {"work_id": w.work_id}, f"{w.title} ({w.work_id})"
    if as_json:
        for version, tv, at in history:
            typer.echo(json.dumps({**key, "version": version, "recorded_at": at, **tv.as_dict()}, ensure_ascii=False))
        return
    table = Table(title=label, title_justify="left")
    for col in ("version", "recorded", "terms", "valid", "jurisdiction"):
        table.add_column(col)
    for version, tv, at in history:
        table.add_row(str(version), at, "; ".join(f"{u}: {t.describe()}" for u, t in tv.uses.items()),
                      f"{tv.valid_from or ''}..{tv.valid_until or ''}" if (tv.valid_from or tv.valid_until) else "",
                      tv.jurisdiction or "")
    console.print(table)

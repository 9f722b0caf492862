"""CLI of the machine-readable terms: ``publish``, ``embed``, ``verify``.

Thin: :mod:`consentry.services.publish`, :mod:`consentry.formats.embed` and
:mod:`consentry.services.verify` do the work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from consentry.domain.errors import InputError
from consentry.adapters.cli.main import EXIT_ERROR, EXIT_FINDINGS, _open, app, console, err_console

DECISION_STYLE = {"deny": "red", "license": "yellow", "allow": "green", "unspecified": "dim"}


@app.command()
def publish(
    out: Path = typer.Option(..., "--out", help="Folder to write the site into (created; replaced as a whole)."),
    base_url: str = typer.Option(..., "--base-url", help="Where the site will be served, e.g. https://music.example.org"),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write the registry's terms as a site a web server can serve as is: robots.txt, ai.txt, TDMRep,
    Content-Usage, RSL, X-Robots-Tag headers, terms pages (HTML and JSON) and nginx/Apache/Caddy snippets.

    The outputs are checked against each other and the registry first; a
    contradiction stops the publication (exit 1) and is reported.
    """
    from consentry.services.publish import build_site, check_site, site_warnings, write_site

    with _open(create=False) as reg:
        export = reg.terms_export()
    site = build_site(export, base_url=base_url)
    problems = check_site(site, export)
    if problems:
        for p in problems:
            err_console.print(f"[red]contradiction[/]: {p}", highlight=False)
        raise InputError(f"{len(problems)} contradiction(s) between the generated files; nothing was written to {out}")
    warnings = site_warnings(site)
    for w in warnings:
        err_console.print(f"[yellow]warning[/]: {w}", highlight=False)
    write_site(site, out)
    if as_json:
        typer.echo(json.dumps({"out": str(out), "files": sorted(site.files), "headers": site.headers,
                               "warnings": warnings}))
        return
    console.print(f"wrote {len(site.files)} files for {len(export['works'])} work(s) of {len(export['creators'])} creator(s) to {out}; "
                  f"server snippets in {out / 'server'}", highlight=False)


@app.command()
def embed(
    files: List[Path] = typer.Argument(..., help="Registered audio or image files to write the terms into."),
    base_url: str = typer.Option(..., "--base-url", help="Where the terms pages are published (consentry publish --base-url)."),
    work: Optional[str] = typer.Option(None, "--work", help="The work the files are (default: found by content hash, else by identification)."),
    cert: Optional[Path] = typer.Option(None, "--cert", help="C2PA signing certificate chain (PEM); with --key, a C2PA manifest is added."),
    key: Optional[Path] = typer.Option(None, "--key", help="Private key (PEM) of --cert."),
    alg: str = typer.Option("es256", "--alg", help="Signing algorithm of the key: es256, ps256 or ed25519."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write copies into this folder instead of changing the files."),
    no_iscc: bool = typer.Option(False, "--no-iscc", help="Do not compute ISCC codes."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file."),
) -> None:
    """Write each file's AI-use terms into the file itself: C2PA (cawg.training-mining), XMP, ID3/Vorbis/MP4 tags, ISCC.

    The audio samples and image pixels are never changed.
    """
    from consentry.services.embed import SignerConfig, embed_terms
    from consentry.domain.hashing import sha256_and_size

    if (cert is None) != (key is None):
        raise InputError("--cert and --key go together")
    signer = SignerConfig(cert_chain_pem=cert, private_key_pem=key, alg=alg) if cert is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    base = base_url.rstrip("/")
    failed = False
    with _open(create=False) as reg:
        export = reg.terms_export()
        by_id = {w["work_id"]: w for w in export["works"]}
        by_sha = {w["sha256"]: w for w in export["works"]}
        for f in files:
            try:
                if work is not None:
                    entry = by_id.get(reg.work(work).work_id)
                else:
                    entry = by_sha.get(sha256_and_size(f)[0]) if f.is_file() else None
                    if entry is None:
                        matches = reg.identify(f)
                        entry = by_id.get(matches[0].work_id) if matches else None
                if entry is None:
                    raise InputError(f"{f}: not a registered work (no content hash or identification match); register it or give --work")
                result = embed_terms(f, entry, terms_url=f"{base}/terms/works/{entry['work_id']}.html",
                                     out=(out / f.name) if out is not None else None, signer=signer, iscc=not no_iscc)
            except InputError as exc:
                failed = True
                if as_json:
                    typer.echo(json.dumps({"file": str(f), "error": str(exc)}))
                else:
                    err_console.print(f"[red]error[/] {exc}", highlight=False)
                continue
            if as_json:
                typer.echo(json.dumps({"file": str(f), "work_id": entry["work_id"], "written": result.written,
                                       "skipped": result.skipped, "iscc": result.iscc}, ensure_ascii=False))
            else:
                skipped = "; ".join(f"{fmt}: {why}" for fmt, why in result.skipped)
                console.print(f"{f}: {entry['title']} ({entry['work_id']}): wrote {', '.join(result.written) or 'nothing'}"
                              + (f" [dim](skipped {skipped})[/]" if skipped else ""), highlight=False)
    if failed:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def verify(
    target: str = typer.Argument(..., help="A URL, a published site folder, or a file."),
    path: Optional[str] = typer.Option(None, "--path", help="For a site or folder: the resource path to judge, e.g. /works/ID/song.mp3."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdicts, signals, contradictions and problems as JSON."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="contradiction: exit with 2 if signals contradict each other."),
    fail_on_contradiction: bool = typer.Option(False, "--fail-on-contradiction", hidden=True,
                                               help="Deprecated: --fail-on contradiction."),
) -> None:
    """Read every AI-use signal of a URL, site or file and give one verdict per use, with sources and contradictions.

    Exit codes: 0 ok; 1 error; 2 signals contradict each other, with --fail-on contradiction.
    """
    from consentry.services.verify import verify_target
    from consentry.adapters.cli.main import fail_option

    fail = fail_option(fail_on, fail_on_contradiction, choices=("contradiction",), old="--fail-on-contradiction",
                       new="--fail-on contradiction")
    report = verify_target(target, path=path)
    d = report.as_dict()
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False))
    else:
        table = Table(title=f"AI-use signals of {target}" + (f" ({path})" if path else ""), title_justify="left")
        for col in ("use", "verdict", "signals", "contradictions"):
            table.add_column(col)
        for use, v in report.verdicts.items():
            sources = "\n".join(f"{s.decision}: {s.source}" for s in v.signals[:6]) + (f"\n… {len(v.signals) - 6} more" if len(v.signals) > 6 else "")
            contra = "\n".join(f"{a.source} ≠ {b.source}" for a, b in v.contradictions[:4])
            table.add_row(use, f"[{DECISION_STYLE[v.decision]}]{v.decision}[/]", sources or "[dim]none[/]", contra)
        console.print(table)
        for label in report.ai_generated:
            console.print(f"[bold]declared AI-generated[/] ({label.source_type}): {label.source}", highlight=False)
        for p in report.problems:
            err_console.print(f"[magenta]unreadable signal[/] {p.source}: {p.message}", highlight=False)
    if fail and any(v.contradictions for v in report.verdicts.values()):
        raise typer.Exit(EXIT_FINDINGS)

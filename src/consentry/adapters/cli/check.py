"""CLI of the output check: ``check``, ``voices enroll|band-prints|list``, ``evidence verify``, ``works melodies``.

Thin: :mod:`consentry.services.check.service` and :mod:`consentry.services.evidence` do the work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from consentry.domain.errors import InputError
from consentry.adapters.cli.main import EXIT_ERROR, EXIT_FINDINGS, _open, _progress, app, console, err_console

voices_app = typer.Typer(help="Enroll and list voices (for the cloned-voice check).", no_args_is_help=True)
evidence_app = typer.Typer(help="Verify evidence bundles written by check --evidence.", no_args_is_help=True)
app.add_typer(voices_app, name="voices")
app.add_typer(evidence_app, name="evidence")


@app.command()
def check(
    outputs: List[Path] = typer.Argument(..., help="AI outputs: audio files, texts (documents, or a JSONL of outputs), or folders searched recursively."),
    evidence: Optional[Path] = typer.Option(None, "--evidence", help="Write a signed evidence bundle per output with findings into this folder."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per output, one per line, instead of the text."),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="Write the JSON lines to this file ('-' for standard output)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write a self-contained HTML summary of every output (audio, texts, images) to this file."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="match: exit with 2 if any output has a finding."),
    fail_on_match: bool = typer.Option(False, "--fail-on-match", hidden=True, help="Deprecated: --fail-on match."),
    melody: bool = typer.Option(True, "--melody/--no-melody", help="Run the reused-melody check."),
    voice: bool = typer.Option(True, "--voice/--no-voice", help="Run the cloned-voice check."),
    voice_band_prints: Optional[bool] = typer.Option(
        None, "--voice-band-prints/--no-voice-band-prints",
        help="Also compare the voices' telephone-band prints, to find telephone copies (docs/voice.md)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Print each bundle's report to PDF with Chromium."),
) -> None:
    """Check AI outputs for copied recordings, reused melodies and cloned voices.

    Exit codes: 0 ok; 1 an output could not be checked (the others still are)
    or another error; 2 findings, with --fail-on match.
    """
    from consentry.services.check.service import check_output, iter_outputs, prepare_check, write_evidence
    from consentry.services.check.text import check_text_outputs, is_text_output, write_text_evidence
    from consentry.services.check.image import check_image_output, is_image_output, write_image_evidence
    from consentry.adapters.cli.main import fail_option

    fail = fail_option(fail_on, fail_on_match, choices=("match",), old="--fail-on-match", new="--fail-on match")
    if as_json:
        if json_out is not None and str(json_out) != "-":
            raise InputError("--json prints the JSON lines and --json-out writes them to a file: give one of them")
        json_out = Path("-")

    files = iter_outputs([str(p) for p in outputs])
    results = []
    results_text = []
    any_error = False
    sink = None
    if json_out is not None and str(json_out) != "-":
        sink = open(json_out, "w", encoding="utf-8")
    try:
        with _open(create=False) as reg, _progress() as bar:
            ctx = prepare_check(reg, melody=melody, voice=voice,
                                **({} if voice_band_prints is None else {"voice_band_prints": voice_band_prints}))
            task = bar.add_task("checking", total=len(files), current="")
            for f in files:
                bar.update(task, current=f.name)
                if is_image_output(f):  # an image output (issue 19)
                    res = check_image_output(reg, f)
                    results_text.append(res)
                    if res.error is None and evidence is not None and res.has_findings:
                        res.notes.append(f"evidence: {write_image_evidence(reg, res, evidence)}")
                    if json_out is not None:
                        line = json.dumps(res.as_dict(), ensure_ascii=False)
                        sink.write(line + "\n") if sink is not None else typer.echo(line)
                    if json_out is None or sink is not None:
                        _print_image_check(res)
                    any_error |= res.error is not None
                    bar.advance(task)
                    continue
                if is_text_output(f):  # a text output, or a JSONL of them (issue 18)
                    for res in check_text_outputs(reg, f):
                        results_text.append(res)
                        if res.error is None and evidence is not None and res.has_findings:
                            res.notes.append(f"evidence: {write_text_evidence(reg, res, evidence)}")
                        if json_out is not None:
                            line = json.dumps(res.as_dict(), ensure_ascii=False)
                            sink.write(line + "\n") if sink is not None else typer.echo(line)
                        if json_out is None or sink is not None:
                            _print_text_check(res)
                        any_error |= res.error is not None
                    bar.advance(task)
                    continue
                res = check_output(ctx, f)
                results.append(res)
                if res.error is None and evidence is not None and res.has_findings:
                    res.notes.append(f"evidence: {write_evidence(ctx, res, evidence, pdf=pdf)}")
                line = json.dumps(res.as_dict(), ensure_ascii=False)
                if sink is not None:
                    sink.write(line + "\n")
                    sink.flush()
                elif json_out is not None:
                    typer.echo(line)
                if json_out is None or sink is not None:
                    _print_check(res)
                any_error |= res.error is not None
                bar.advance(task)
    finally:
        if sink is not None:
            sink.close()
    if report is not None:  # every output checked, whatever its medium (reporting/check_report.py)
        from consentry.domain.clock import now_iso
        from consentry.reporting.check_report import render_check_html

        report.write_text(render_check_html([*results, *results_text], checked_at=now_iso()), encoding="utf-8")
    if any_error:
        raise typer.Exit(EXIT_ERROR)
    if fail and any(r.has_findings for r in results + results_text):
        raise typer.Exit(EXIT_FINDINGS)


def _print_image_check(res) -> None:
    if res.error is not None:
        err_console.print(f"[red]error[/] {res.output}: {res.error}", highlight=False)
        return
    head = f"[bold]{res.output}[/] ({res.width_px} x {res.height_px} px)"
    if not res.has_findings:
        console.print(f"{head}: nothing registered found", highlight=False)
        return
    console.print(f"{head}: {len(res.matches)} registered image(s)", highlight=False)
    for m in res.matches:
        t = m.get("transform") or {}
        console.print(f"  image  {m['title']} [dim]{m['work_id'][:8]}[/] box {m['query_box']} = work {m['work_box']}"
                      f", scale {t.get('scale')}, rotation {t.get('rotation_deg')} deg"
                      f"{', mirrored' if t.get('mirrored') else ''} (terms: {m['terms']})", highlight=False)
    for note in res.notes:
        console.print(f"  {note}", highlight=False)


def _print_text_check(res) -> None:
    if res.error is not None:
        err_console.print(f"[red]error[/] {res.output}: {res.error}", highlight=False)
        return
    head = f"[bold]{res.output}[/] ({res.words:,} words)"
    if not res.has_findings:
        console.print(f"{head}: nothing registered found", highlight=False)
        return
    console.print(f"{head}: {100 * res.copied_share:.1f}% of it registered text", highlight=False)
    for p in res.passages:
        console.print(f"  text  {p['title']} [dim]{p['work_id'][:8]}[/] {p['matched_words']} words: characters "
                      f"{p['query_start_char']}-{p['query_end_char']} = work {p['work_start_char']}-{p['work_end_char']}"
                      f" (terms: {p['terms']})", highlight=False)
    for note in res.notes:
        console.print(f"  {note}", highlight=False)


def _print_check(res) -> None:
    if res.error is not None:
        err_console.print(f"[red]error[/] {res.output}: {res.error}", highlight=False)
        return
    head = f"[bold]{res.output}[/] ({res.duration_s:.1f} s)"
    if not res.has_findings:
        console.print(f"{head}: nothing registered found", highlight=False)
    else:
        console.print(f"{head}:", highlight=False)
    from consentry.reporting.findings import confidence_text, group_matches

    for f in group_matches(res.recording):  # one line per work, then one per segment
        console.print(f"  recording  {f['title']} [dim]{f['work_id'][:8]}[/] {confidence_text(f['confidence'])}", highlight=False)
        for m in f["segments"]:
            console.print(f"             {m['query_start_s']:.1f}-{m['query_end_s']:.1f} s = work {m['work_start_s']:.1f}-"
                          f"{m['work_end_s']:.1f} s, speed {m['speed']:.3f}, pitch {m['pitch_shift_semitones']:+.2f} st, "
                          f"score {m['score']:.0f}", highlight=False)
    if res.recording:
        console.print(f"  copied     {100 * res.copied_share:.1f}% of the output", highlight=False)
    for m in res.melody:
        console.print(f"  melody     {m['title']} [dim]{m['work_id'][:8]}[/] {m['n_matched_notes']} notes at {m['query_start_s']:.1f} s "
                      f"(work {m['reference_start_s']:.1f} s) {m['transposition_semitones']:+d} st tempo x{m['tempo_ratio']} "
                      f"false alarm {m['false_alarm']:.1e}", highlight=False)
        if m.get("caution"):
            console.print(f"  [yellow]caution: {m['caution']}[/]", highlight=False)
    for v in res.voice_matches:
        measure = "cohort score" if v.get("statistic") == "cohort" else "similarity"  # docs/check.md
        console.print(f"  voice      {v['creator']} {measure} {v['score']:.3f} (threshold {v['threshold']:.2f}, "
                      f"P(same) {v['probability']:.2f})", highlight=False)
        if v.get("caution"):
            console.print(f"  [yellow]caution: {v['caution']}[/]", highlight=False)
    if res.voice_note:
        console.print(f"  [dim]voice: {res.voice_note}[/]", highlight=False)
    for check_name, reason in res.skipped.items():
        console.print(f"  [dim]{check_name} check skipped: {reason}[/]", highlight=False)
    for note in res.notes:
        console.print(f"  [dim]{note}[/]", highlight=False)


@voices_app.command("enroll")
def voices_enroll(
    files: List[Path] = typer.Argument(..., help="Voice samples (files or folders): one voice print per file."),
    creator: str = typer.Option(..., "--creator", help="Whose voice this is."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file."),
) -> None:
    """Enrol voice samples: one voice print per file (a file without speech is refused, nothing stored for it).

    Exit codes: 0 every file enrolled; 1 a file could not be enrolled.
    """
    from consentry.services.check.service import enroll_voices

    with _open(create=False) as reg:
        outcomes = enroll_voices(reg, creator=creator, paths=[str(f) for f in files])
    for o in outcomes:
        if as_json:
            band = ({"band_voice_id": o.band_voice.voice_id, "band_new": o.band_new} if o.band_voice else
                    {"band_error": o.band_error} if o.band_error else {})
            typer.echo(json.dumps({"path": o.path, "error": o.error} if o.error else
                                  {"path": o.path, "new": o.new, **o.voice.as_dict(), **band}, ensure_ascii=False))
        elif o.error:
            err_console.print(f"[red]error[/] {o.error}", highlight=False)
        else:
            console.print(f"{'enrolled' if o.new else 'already enrolled'} {o.voice.voice_id} {o.voice.creator} "
                          f"from {Path(o.path).name} ({o.voice.speech_s:.1f} s of speech)", highlight=False)
            if o.band_voice is not None:
                console.print(f"  {'added' if o.band_new else 'has'} its telephone-band print "
                              f"{o.band_voice.voice_id}", highlight=False)
            elif o.band_error:
                console.print(f"  [yellow]{o.band_error}[/]", highlight=False)
    if any(o.error for o in outcomes):
        raise typer.Exit(EXIT_ERROR)


@voices_app.command("band-prints")
def voices_band_prints(
    creator: Optional[str] = typer.Option(None, "--creator", help="Only this creator's voices."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per voice."),
) -> None:
    """Add telephone-band prints to voices enrolled without one, from their samples where they were enrolled.

    Exit codes: 0 every such voice has its print (or there was none to add); 1 a sample is gone, changed or refused.
    """
    from consentry.services.check.voice import add_band_prints

    with _open(create=False) as reg:
        outcomes = add_band_prints(reg, creator=creator)
    for o in outcomes:
        if as_json:
            typer.echo(json.dumps({"voice_id": o.voice_id, "creator": o.creator, "source": o.source,
                                   **({"error": o.error} if o.error else {"band_voice_id": o.band_voice.voice_id})},
                                  ensure_ascii=False))
        elif o.error:
            err_console.print(f"[red]error[/] {o.error}", highlight=False)
        else:
            console.print(f"added {o.band_voice.voice_id}, the telephone-band print of {o.voice_id} "
                          f"({o.creator})", highlight=False)
    if not as_json:
        console.print(f"{sum(o.error is None for o in outcomes)} telephone-band print(s) added", highlight=False)
    if any(o.error for o in outcomes):
        raise typer.Exit(EXIT_ERROR)


@voices_app.command("list")
def voices_list(as_json: bool = typer.Option(False, "--json", help="JSON lines, one per enrolled sample (band_print: it has a telephone-band print too).")) -> None:
    """List enrolled voice prints."""
    from consentry.services.works import voice_rows

    with _open(create=False) as reg:
        voices = voice_rows(reg)
    if as_json:
        for v in voices:
            typer.echo(json.dumps(v, ensure_ascii=False))
        return
    table = Table()
    for col in ("id", "creator", "sample", "speech", "engine", "telephone band", "enrolled"):
        table.add_column(col)
    for v in voices:
        table.add_row(v["voice_id"], v["creator"], v["source_name"], f"{v['speech_s']:.1f} s", v["engine"],
                      "yes" if v["band_print"] else "no (`consentry voices band-prints`)", v["enrolled_at"])
    console.print(table)
    console.print(f"{len(voices)} voice print(s)")


@evidence_app.command("verify")
def evidence_verify(
    bundle: Path = typer.Argument(..., help="An .evidence.zip bundle."),
    files: Optional[Path] = typer.Option(None, "--files", help="Folder with the output and reference files (found by SHA-256)."),
    rematch: bool = typer.Option(False, "--rematch", help="Re-run the checks on the output found in --files against the registry."),
    trust_key: Optional[List[Path]] = typer.Option(None, "--trust-key", help="Also accept bundles signed by this key: a PEM "
                                                   "public key (e.g. the one another registry publishes) or a file "
                                                   "holding its sha256:... fingerprint. Repeat for several."),
    fingerprint: Optional[str] = typer.Option(None, "--fingerprint", help="Also accept the key with this fingerprint (sha256:...), e.g. the one a registry publishes."),
    accept_any_signer: bool = typer.Option(False, "--accept-any-signer", help="Accept a key that is neither this registry's nor "
                                           "trusted: check integrity only (the signer is then unknown)."),
) -> None:
    """Check a bundle's signatures, its signer and its hashes (and, with --files/--rematch, the files and the findings).

    The bundle must be signed by this registry's evidence key (--registry),
    or by a key given with --trust-key/--fingerprint; any other key fails,
    naming both fingerprints, unless --accept-any-signer (integrity only).
    Without a registry here, give the key to trust.

    Exit codes: 0 verified (and reproduced, with --rematch; with
    --accept-any-signer, intact but signed by an unknown key); 1 otherwise.
    """
    from consentry.domain.errors import ConsentryError, InputError
    from consentry.services.evidence import (
        format_verify_result, read_trusted_key, registry_key_fingerprint, verify_bundle,
    )

    if rematch and files is None:
        raise InputError("--rematch needs --files DIR holding the checked output")
    trusted = {read_trusted_key(p): str(p) for p in trust_key or []}
    try:
        reg = _open(create=False)
    except ConsentryError as exc:
        if rematch:
            raise
        reg = None
        if not (trusted or fingerprint or accept_any_signer):
            err_console.print(f"[yellow]no registry here[/] ({exc}); so there is no registry key to compare the "
                              "signer with: give the key to trust with --trust-key FILE or --fingerprint sha256:..., "
                              "or --accept-any-signer for integrity only", highlight=False)
    if reg is None:
        result = verify_bundle(bundle, files_dir=files, trusted_fingerprints=trusted, expected_fingerprint=fingerprint,
                               accept_any_signer=accept_any_signer)
    else:
        with reg:
            ours = registry_key_fingerprint(reg.local_dir)
            checker = None
            if rematch:
                from consentry.services.check.service import prepare_check, rematch_with

                checker = rematch_with(prepare_check(reg))
            result = verify_bundle(bundle, files_dir=files, rematch=checker, registry_fingerprint=ours,
                                   trusted_fingerprints=trusted, expected_fingerprint=fingerprint,
                                   accept_any_signer=accept_any_signer)
    typer.echo(format_verify_result(result))
    if not result.ok or (rematch and result.reproduces is not True):
        raise typer.Exit(EXIT_ERROR)

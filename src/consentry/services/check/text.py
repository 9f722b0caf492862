"""Checking AI text outputs against the registry: which registered passages an output reproduces (issue 18).

``consentry check OUTPUT`` on a text output (a document, or a JSONL file of
outputs, one per line in a column named ``output``, ``completion``,
``response``, ``generated_text``, ``text`` or ``content``) identifies every
registered passage it reproduces, aligned word by word with the registered
work when the work's file is still at its path (``docs/text.md``, "Align"),
and writes, on request, a signed evidence bundle showing both texts side by
side with the differences marked.

The bundle has the members and signatures of the audio bundles
(``docs/evidence.md``): ``facts.json`` (canonical JSON) and
``facts.json.sig``, ``signer.pub``, ``report.html``, ``manifest.json`` and
``manifest.json.sig``; ``facts.json`` says ``"medium": "text"`` and holds, per
passage, the engine's evidence facts (both extents in characters, matched
words, the seeds with their hashes), the alignment's operations and the
work's terms.  A third party re-checks a seed with the engine alone (the
words at the seed's offsets hash to its ``hash``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from consentry import __version__, engines
from consentry.domain.errors import ConsentryError, DecodeError, InputError

__all__ = ["OUTPUT_COLUMNS", "TextCheckResult", "is_text_output", "check_text_outputs", "write_text_evidence"]

#: Columns of a JSONL file of outputs taken as the output text, in order of preference.
OUTPUT_COLUMNS = ("output", "completion", "response", "generated_text", "text", "content", "answer")
#: Outputs longer than this (characters) are checked on their first this-many characters.
MAX_OUTPUT_CHARS = 20_000_000


@dataclass
class TextCheckResult:
    """What the check found in one text output (or why it could not be checked)."""

    output: str
    error: str | None = None
    sha256: str | None = None
    chars: int = 0
    words: int = 0
    passages: list[dict] = field(default_factory=list)
    copied_share: float = 0.0
    min_words: float | None = None
    notes: list[str] = field(default_factory=list)
    text: str = field(default="", repr=False)
    views: list[dict] = field(default_factory=list, repr=False)
    medium: str = "text"

    @property
    def has_findings(self) -> bool:
        return bool(self.passages)

    def as_dict(self) -> dict:
        """The JSON line of ``consentry check --json`` for a text output."""
        if self.error is not None:
            return {"output": self.output, "medium": "text", "error": self.error}
        return {"output": self.output, "medium": "text", "sha256": self.sha256, "chars": self.chars,
                "words": self.words, "passages": self.passages, "copied_share": round(self.copied_share, 4),
                "min_words": self.min_words, "findings": len(self.passages), "notes": self.notes}


def is_text_output(path: str | os.PathLike) -> bool:
    """Whether the file is a text output (the text engine claims it, and no engine asked before it does)."""
    from consentry.services.media import engine_for_path

    try:
        engine = engine_for_path(path)
    except InputError:
        return False
    return engine is not None and engine.medium == "text"


def _outputs(path: Path) -> Iterator[tuple[str, bytes | None, str | None]]:
    """``(label, bytes, error)`` of each output in the file: its rows for a JSONL of outputs, else the file."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson")):
        from consentry.io.sources.text import TextRowsDataset, choose_text_column

        ds = TextRowsDataset.__new__(TextRowsDataset)  # the reader, with the outputs' own column names
        ds.files, ds.kind = [path], "jsonl"
        ds.columns = ds._columns(path)
        ds.column = next((c for c in OUTPUT_COLUMNS if c in ds.columns), None) or \
            choose_text_column(ds.columns, text_column=None, source=str(path))
        for item in ds._jsonl_items(path):
            yield f"{path}#{item.item_id}", item.data, item.error
        return
    try:
        with open(path, "rb") as fh:
            yield str(path), fh.read(), None
    except OSError as exc:
        yield str(path), None, f"{path}: cannot read ({exc.strerror or exc})"


def check_text_outputs(registry, path: str | os.PathLike, *, min_words: float | None = None) -> list[TextCheckResult]:
    """Check each text output in the file at ``path`` (see the module docstring); never raises on content."""
    from consentry.reporting.text_diff import side_by_side
    from consentry.services.media import identify_signal, unsearched_note, unsearched_works

    engine = engines.get("text")
    unsearched = unsearched_works(registry, engine)  # texts an older engine version fingerprinted: not compared
    results = []
    for label, data, error in _outputs(Path(path)):
        res = TextCheckResult(output=label, error=error)
        results.append(res)
        if error is not None:
            continue
        if unsearched:
            res.notes.append(unsearched_note("text", unsearched))
        try:
            signal = engine.decode(data, name=label, max_extent=MAX_OUTPUT_CHARS)
            res.sha256 = hashlib.sha256(data).hexdigest()
            res.text, res.chars = signal.data, len(signal.data)
            res.words = len(engine.words(signal.data))
            res.min_words = engine.min_score_for(signal.size) if min_words is None else float(min_words)
            matches = identify_signal(registry, engine, signal, min_score=min_words, with_evidence=True, refine=True)
        except DecodeError as exc:
            res.error = exc.reason
            continue
        except ConsentryError as exc:
            res.error = str(exc)
            continue
        except MemoryError:
            res.error = f"{label}: too large to check in memory"
            continue
        spans = []
        for m in matches:
            d = m.as_dict()
            passage = {k: d[k] for k in ("work_id", "title", "creator", "terms", "query_start_char", "query_end_char",
                                         "work_start_char", "work_end_char", "matched_words", "work_share",
                                         "aligned", "confidence", "disputed_claims") if k in d}
            res.passages.append(passage)
            spans.append((d["query_start_char"], d["query_end_char"]))
            work = registry.store.get_work(m.work_id)
            res.views.append(_view(engine, signal, work, m, side_by_side))
        res.copied_share = _covered(spans) / res.chars if res.chars else 0.0
    return results


def _view(engine, signal, work, match, side_by_side) -> dict:
    """The evidence of one passage: the engine's facts, the alignment's operations and the side-by-side view."""
    from consentry.engines.base import Extent, Located

    facts = dict(match.detail.get("evidence") or {})
    view = {"work_id": work.work_id, "title": work.title, "creator": work.creator, "source": Path(work.source).name,
            "facts": facts, "terms": {"terms_version": work.terms_version, **work.terms.as_dict()}}
    try:
        from consentry.domain.hashing import sha256_and_size

        if sha256_and_size(work.source)[0] != work.sha256:
            raise OSError("changed")
        work_text = engine.decode(work.source).data
    except (OSError, ConsentryError, ValueError):
        view["note"] = "the registered file is not at its path (or changed): the extents come from the seeds alone"
        return view
    d = match.detail
    located = Located(fp_id=0, score=float(d["matched_words"]), confidence=0.0,
                      query=Extent.span(d["query_start_char"], d["query_end_char"], unit="char"),
                      work=Extent.span(d["work_start_char"], d["work_end_char"], unit="char"),
                      extra=None)
    alignment = engine.align(signal.data, work_text, located)
    if alignment is not None:
        view["ops"] = [list(op) for op in alignment.ops]
        view["side_by_side"] = side_by_side(signal.data, work_text, alignment)
    return view


def _covered(spans: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def write_text_evidence(registry, res: TextCheckResult, out_dir: str | os.PathLike, *, now: dt.datetime | None = None) -> Path:
    """Write ``out_dir/<output>.evidence.zip`` for a text output with findings (see the module docstring)."""
    from consentry.domain.hashing import sha256_and_size
    from consentry.services.check.service import given_name
    from consentry.services.evidence.bundle import BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, seal, write_atomically
    from consentry.services.evidence.canonical import canonical_json, to_plain
    from consentry.services.evidence.keys import key_fingerprint, load_or_create_signing_key, public_key_pem

    checked_at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    engine = engines.get("text")
    references = []
    for v in res.views:
        work = registry.store.get_work(v["work_id"])
        ref = {"id": work.work_id, "kind": "work", "name": given_name(registry, work.source.split("#row:")[0]),
               "sha256": work.sha256, "size_bytes": None, "present": False}
        try:
            sha, size = sha256_and_size(work.source)
            ref.update(size_bytes=size, present=sha == work.sha256)
        except OSError:
            pass
        if ref not in references:
            references.append(ref)
    row = res.output.split("#", 1)[1] if "#" in res.output else None
    facts = to_plain({
        "format": BUNDLE_FORMAT, "format_version": BUNDLE_FORMAT_VERSION, "medium": "text",
        "tool": {"name": "consentry", "version": __version__},
        "checked_at": checked_at.isoformat().replace("+00:00", "Z"),
        "engine": engine.id.as_dict(),
        "output": {"name": Path(res.output.split("#")[0]).name + (f"#{row}" if row else ""), "sha256": res.sha256,
                   "size_bytes": len(res.text.encode("utf-8", "surrogatepass")) if row
                   else _size(getattr(res, "path", None) or res.output),  # the file checked (a server names it)
                   "chars": res.chars, "words": res.words},
        "references": references,
        "copied_share": round(res.copied_share, 4),
        "passages": [{**p, "evidence": v["facts"], "ops": v.get("ops"), "terms": v["terms"]}
                     for p, v in zip(res.passages, res.views)],
    })
    facts_bytes = canonical_json(facts)
    key = load_or_create_signing_key(registry.local_dir)
    fingerprint = key_fingerprint(key)
    members = {"facts.json": facts_bytes, "facts.json.sig": key.sign(facts_bytes), "signer.pub": public_key_pem(key),
               "report.html": _report_html(res, fingerprint).encode("utf-8")}
    data = seal(members, key=key, fingerprint=fingerprint, pdf={"included": False, "reason": "not made for text outputs"},
                checked_at=checked_at)
    stem = Path(res.output.split("#")[0]).stem + (("-" + res.output.split("#", 1)[1].replace(":", "")) if "#" in res.output else "")
    return write_atomically(out_dir, f"{stem or 'output'}.evidence.zip", data)


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _report_html(res: TextCheckResult, fingerprint: str) -> str:
    from html import escape

    from consentry.reporting.text_diff import side_by_side_html

    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Evidence: ", escape(res.output),
             "</title><style>body{font:14px/1.45 sans-serif;margin:2em}table.text-diff{border-collapse:collapse;"
             "width:100%}table.text-diff td{vertical-align:top;border:1px solid #ccc;padding:.6em;width:50%;"
             "white-space:pre-wrap}mark{background:#ffe08a}del{background:#f6c6c6}ins{background:#c6ecc6}"
             ".ctx{color:#888}</style></head><body>",
             f"<h1>Registered text in {escape(res.output)}</h1>",
             f"<p>{len(res.passages)} passage(s); {100 * res.copied_share:.1f}% of the output's {res.chars:,} "
             f"characters. Signed by key {escape(fingerprint)}. Marked: <mark>replaced words</mark>, "
             "<del>words only in the output</del>, <ins>words only in the work</ins>.</p>"]
    for p, v in zip(res.passages, res.views):
        parts.append(f"<h2>{escape(str(p.get('title')))} <small>({escape(p['work_id'])}, "
                     f"{escape(str(p.get('creator') or 'creator unknown'))}; terms: {escape(str(p.get('terms')))})</small></h2>")
        parts.append(f"<p>Output characters {p['query_start_char']:,}-{p['query_end_char']:,} = work characters "
                     f"{p['work_start_char']:,}-{p['work_end_char']:,}; {p['matched_words']} matched words.</p>")
        if "side_by_side" in v:
            parts.append(side_by_side_html(v["side_by_side"], work_label=f"Registered work: {v['title']}"))
        else:
            parts.append(f"<p><i>{escape(v.get('note', ''))}</i></p>")
    parts.append("</body></html>")
    return "".join(parts)

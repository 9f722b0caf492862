"""Registering a file of articles: one text work per row of a JSONL, CSV or Parquet file (issue 18).

A newspaper or a publisher registers its archive as one file: each row
holds an article's text and, optionally, its title, author and date.  The
columns are found by name (text: :data:`~consentry.io.sources.text.TEXT_COLUMN_NAMES`;
title: ``title``, ``headline``, ``name``; creator: ``creator``, ``author``,
``byline``; date: ``date``, ``published``, ``first_published_on``, ...) or
named by the caller.  Each row becomes a work of the text engine:

- ``work_id`` from the SHA-256 of the row's text (UTF-8), which also makes
  registering the same file again idempotent (duplicates are reported);
- ``source`` = ``<file>#row:<n>``; ``duration_s`` = the text's length in
  characters; ``first_published_on`` from the date column (a date or an ISO
  time; a row with an unreadable date is an error of that row);
- a row whose text is HTML is read as HTML (boilerplate dropped).

Rows are fingerprinted in this process and committed in batches (each
whole: works and their index segment), so an interruption keeps whole
batches.  A row whose text covers at least half of another creator's work,
or whose work it covers half of, opens an ownership claim against that work
as a document does (``docs/claims.md``; extents in characters); rows of one
file are not compared with each other; works other creators commit while
the file is being registered are looked for again in the rows of each batch
when it is committed.  A row whose text (its SHA-256) is
already a work of another creator becomes a work of its own with a
same-content claim, as a document or a recording does; the same text
registered again by its creator (or a row without a creator) is a
duplicate.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

from consentry import engines
from consentry.domain.clock import now_iso as utc_now
from consentry.domain.errors import ConsentryError, InputError
from consentry.domain.works import Terms, Work, parse_date

__all__ = ["ARTICLE_SUFFIXES", "is_article_file", "register_articles"]

ARTICLE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".csv", ".parquet")
TITLE_COLUMNS = ("title", "headline", "name", "heading")
CREATOR_COLUMNS = ("creator", "author", "authors", "byline", "writer")
DATE_COLUMNS = ("first_published_on", "published", "date", "published_at", "publication_date", "pubdate")


def is_article_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file of articles: a JSONL/CSV/Parquet file with a text column."""
    from consentry.io.sources.text import open_text_dataset

    p = Path(path)
    if not p.is_file() or not p.name.lower().endswith(ARTICLE_SUFFIXES):
        return False
    try:
        open_text_dataset(p)
    except InputError:
        return False
    return True


def _column(columns: list[str], wanted: str | None, names: tuple[str, ...], *, source: Path, what: str) -> str | None:
    by_name = {c.strip().lower(): c for c in reversed(columns)}
    if wanted is not None:
        found = wanted if wanted in columns else by_name.get(wanted.strip().lower())
        if found is None:
            raise InputError(f"{source}: no column '{wanted}' for the {what} (columns: {', '.join(columns[:20])})")
        return found
    return next((by_name[n] for n in names if n in by_name), None)


def register_articles(registry, path: str | os.PathLike, summary, *, creator: str | None = None,
                      terms: Terms, text_column: str | None = None, title_column: str | None = None,
                      creator_column: str | None = None, date_column: str | None = None,
                      copyright_registered_on: str | None = None, first_published_on: str | None = None,
                      batch_size: int = 256, detect_claims: bool = True, claim_rules=None, now=None,
                      progress: Callable[[int, int, str], None] | None = None) -> None:
    """Register each row of the file at ``path`` as a text work, adding to ``summary`` (a RegisterSummary).

    Raises
    ------
    InputError
        One line naming the file when it cannot be read as a file of articles
        (no text column, a named column missing).  A bad row is an error of
        that row (``summary.errors``), never a stop.
    """
    from consentry.io.sources.text import open_text_dataset
    from consentry.runtime.interrupts import deferred_interrupts, raise_if_stopping

    source = Path(path)
    ds = open_text_dataset(source, text_column=text_column)
    title_col = _column(ds.columns, title_column, TITLE_COLUMNS, source=source, what="title")
    creator_col = _column(ds.columns, creator_column, CREATOR_COLUMNS, source=source, what="creator")
    date_col = _column(ds.columns, date_column, DATE_COLUMNS, source=source, what="date")
    engine = engines.get("text")
    resolved = str(source.resolve())
    pending: list = []
    seen: dict[str, str] = {}
    # Ownership claims (docs/claims.md): rows are identified against the works registered before them, when
    # some have a creator; works committed by others since are checked again at each commit.
    known = registry.works() if detect_claims else []
    snapshot_fp_id = max((w.fp_id for w in known), default=0)
    detect = any(w.creator is not None for w in known)
    conflicts: dict[str, list[dict]] = {}  # sha256 -> works found in the row
    signals: dict[str, object] = {}  # sha256 -> the row's text, until its batch is committed (identified again there)
    same_content: dict[str, list] = {}  # sha256 -> other creators' live works with the row's text

    def flush() -> None:
        if pending:
            opened: list = []
            claims_for = None
            if detect_claims:
                from consentry.services.claims import ownership_claims_at_commit

                def claims_for(added: list) -> list:
                    opened[:] = ownership_claims_at_commit(
                        registry, added, snapshot_fp_id=snapshot_fp_id,
                        registered_here=[w.work_id for w in summary.registered],
                        matches={w.work_id: conflicts.get(w.sha256, []) for w in added},
                        same_content={w.work_id: same_content.get(w.sha256, []) for w in added},
                        now=now, rules=claim_rules, identify_again=identify_again)
                    return opened

            with deferred_interrupts():
                summary.registered.extend(registry.store.add_works(pending, claims_for=claims_for))
                summary.claims.extend(opened)
                summary.batches += 1
            for w, *_ in pending:
                conflicts.pop(w.sha256, None)
                same_content.pop(w.sha256, None)
                signals.pop(w.sha256, None)
            pending.clear()

    def identify_again(work) -> list[dict]:
        """A row's matches against the registry as it is at its batch's commit (a row has no file to re-read)."""
        from consentry.services.media import conflict_matches

        signal = signals.get(work.sha256)
        return conflict_matches(registry, engine, signal) if signal is not None else []

    done = 0
    for item_id, where, record, error in ds.records():
        raise_if_stopping()
        done += 1
        label = f"{source}#{item_id}"
        if progress:
            progress(done, 0, label)
        if error is not None:
            summary.errors.append((label, error.removeprefix(f"{source.name} ")))
            continue
        value = record.get(ds.column)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n\n".join(value)
        if not isinstance(value, str) or not value.strip():
            summary.errors.append((label, f"{where}: no text in column '{ds.column}'"))
            continue
        data = value.encode("utf-8", "surrogatepass")
        sha = hashlib.sha256(data).hexdigest()
        row_creator = creator or (_text(record.get(creator_col)) if creator_col else None)
        existing = registry.store.live_works_with_sha256(sha)
        mine = [w for w in existing if row_creator is None or w.creator in (row_creator, None)]
        if mine or sha in seen:
            summary.duplicates.append((label, mine[0].work_id if mine else seen[sha]))
            continue
        try:
            signal = engine.decode(data, name=label)
            fp = engine.fingerprint(signal)
            published = (_date(record.get(date_col)) if date_col else None) or first_published_on
            title = (_text(record.get(title_col)) if title_col else None) or engine.title_of(signal) or \
                f"{source.stem} {item_id}"
        except ConsentryError as exc:
            summary.errors.append((label, str(exc).removeprefix(f"{label}: ")))
            continue
        if len(fp) == 0:
            summary.errors.append((label, f"{where}: too short to identify (fewer than "
                                          f"{engine.params.shingle_words} words)"))
            continue
        work = Work(
            work_id=sha[:16], fp_id=0, sha256=sha, title=title[:500], creator=row_creator,
            source=f"{resolved}#{item_id}", duration_s=float(signal.size), registered_at=utc_now(),
            engine=engine.id.name, engine_version=engine.id.version, param_hash=engine.id.param_hash,
            n_hashes=int(len(fp)), terms=terms,
            copyright_registered_on=copyright_registered_on, first_published_on=published,
        )
        if detect and row_creator is not None:
            from consentry.services.media import conflict_matches

            try:
                found = conflict_matches(registry, engine, signal)
            except ConsentryError as exc:
                summary.errors.append((label, str(exc).removeprefix(f"{label}: ")))
                continue
            if found:
                conflicts[sha] = found
        if existing:  # other creators' works with this text: a work of its own, and a same-content claim
            same_content[sha] = existing
        if detect_claims and row_creator is not None:
            signals[sha] = signal
        pending.append((work, fp.keys, lambda fp_id, fp=fp: engine.postings(fp, fp_id=fp_id)[1]))
        seen[sha] = work.work_id
        if len(pending) >= batch_size:
            flush()
    flush()


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text[:256] or None


def _date(value) -> str | None:
    """A row's date as ``YYYY-MM-DD`` (a date, or the date part of an ISO time); a FieldError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if len(text) > 10 and text[10] in "T ":
        text = text[:10]
    return parse_date(text, field="first_published_on")

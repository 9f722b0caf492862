"""Use cases: register works, identify them in queries, manage the registry.

The CLI (and later the API and web app) are thin layers over :class:`Registry`.

>>> from consentry import Registry
>>> reg = Registry.open("consentry.db")                     # doctest: +SKIP
>>> reg.register(["~/catalogue"], creator="Ana Lima")       # doctest: +SKIP
>>> reg.identify("suspicious_clip.mp3")                     # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from consentry.io.decode import decode_audio, iter_audio_files, read_tags
from consentry.domain.errors import ConsentryError, DecodeError, FieldError, InputError, RegistryError, quote
from consentry.domain.hashing import sha256_and_size
from consentry import engines
from consentry.engines.music import engine
from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME, MusicEngineParams
from consentry.runtime.interrupts import POLL_S, Interrupted, deferred_interrupts, polled, raise_if_stopping
from consentry.runtime.pools import WorkerCount, process_pool, worker_count
from consentry.domain.works import Match, Terms, Work, parse_date
from consentry.domain.usage import USES, TermsVersion, UseTerms, creator_slug, resolve_terms
from consentry.store import is_postgres_url
from consentry.store.sqlbase import SQLStore
from consentry.store.sqlite import SQLiteStore, utc_now
from consentry.runtime.threads import limit_worker_threads

#: Longest audio a work may have (the index addresses 2**24 frames, ~74 h).
MAX_WORK_DURATION_S = 12 * 3600.0

ProgressCallback = Callable[[int, int, str], None]


#: The unit of a work's size (its ``duration_s``) in each medium.
_UNITS = {"music": "s", "text": "char", "image": "px"}


@dataclass
class RegisterSummary:
    """What a call to :meth:`Registry.register` did."""

    registered: list[Work] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, existing work_id)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    melody_errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): registered, melody not stored
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): registered, can never be found
    claims: list = field(default_factory=list)  # consentry.domain.claims.Claim opened against other creators' works
    seconds: float = 0.0
    batches: int = 0  # batches committed
    workers: WorkerCount | None = None  # the fingerprinting processes used, and what limited them

    @property
    def audio_s(self) -> float:
        """Seconds of music registered (the other media's sizes are in characters or pixels)."""
        return float(sum(w.duration_s for w in self.registered if w.engine == ENGINE_NAME))

    def media(self) -> dict[str, dict]:
        """Works registered per medium, in the order first met: ``{"music": {"n": 2, "size": 120.0}, ...}``, the
        size in the medium's unit (seconds of music, characters of text, pixels of images)."""

        out: dict[str, dict] = {}
        for w in self.registered:
            m = out.setdefault(engines.medium_of_engine(w.engine), {"n": 0, "size": 0.0})
            m["n"] += 1
            m["size"] += float(w.duration_s)
        return out


@dataclass(frozen=True)
class IdentifyResult:
    """The outcome for one query: matches, or an error."""

    query: str
    matches: list[Match]
    duration_s: float = 0.0
    error: str | None = None
    #: The query's medium ("music", "text", "image"); ``size`` and ``unit`` say how much was searched.
    medium: str = "music"
    size: float | None = None
    unit: str = "s"
    #: Registered works of the query's medium not searched: fingerprinted by an older engine version (reindex them).
    unsearched_works: int = 0

    def as_dict(self) -> dict:
        if self.error is not None:
            return {"query": self.query, "error": self.error}
        if self.medium == "music":
            return {"query": self.query, "duration_s": round(self.duration_s, 3),
                    "matches": [m.as_dict() for m in self.matches]}
        return {"query": self.query, "medium": self.medium, "size": self.size, "unit": self.unit,
                "matches": [m.as_dict() for m in self.matches],
                **({"unsearched_works": self.unsearched_works} if self.unsearched_works else {})}


def _fingerprint_file(path: str, params: MusicEngineParams, melody: bool = False, match_spec: str | None = None,
                      registry: "Registry | None" = None) -> dict:
    """Worker: decode and fingerprint one file, and transcribe its melody if asked (runs in a worker process).

    With ``match_spec`` (a registry to open in this process) or ``registry``
    (in-process), the file is also identified against the works already
    registered: ``result["matches"]`` lists them (for ownership claims,
    docs/claims.md).
    """
    medium = _medium_of(path)
    if medium != "music":
        from consentry.services.media import fingerprint_path

        if medium in ("text", "image") and registry is None and match_spec is not None:  # claims by content
            registry = _MATCH_REGISTRIES.get(match_spec) or _MATCH_REGISTRIES.setdefault(
                match_spec, Registry.open(match_spec, create=False, params=params))
        return fingerprint_path(path, medium, match_in=registry if medium in ("text", "image") else None)
    result = _fingerprint_only(path, params, match_spec=match_spec, registry=registry)
    if melody and "error" not in result:
        from consentry.services.check.service import transcribe_notes_json

        result.update(transcribe_notes_json(path, max_duration_s=MAX_WORK_DURATION_S + 1))
    return result


def _medium_of(path: str) -> str:
    """The medium whose engine claims the file (by content); music when none does (the decoder then says why)."""
    from consentry.services.media import engine_for_path

    try:
        engine = engine_for_path(path)
    except ConsentryError:
        return "music"
    return "music" if engine is None else engine.medium


#: Registries opened by worker processes to find conflicting works (one per registry spec).
_MATCH_REGISTRIES: dict = {}


def _conflict_matches(samples: np.ndarray, params: MusicEngineParams, match_spec: str | None,
                      registry: "Registry | None") -> list[dict]:
    """Registered works found in a file being registered (plain dicts, cheap to send between processes)."""
    if registry is None:
        registry = _MATCH_REGISTRIES.get(match_spec)
        if registry is None:
            registry = _MATCH_REGISTRIES[match_spec] = Registry.open(match_spec, create=False, params=params)
    return [{"work_id": m.work_id, "creator": m.creator, "query_start_s": m.query_start_s, "query_end_s": m.query_end_s,
             "work_start_s": m.work_start_s, "work_end_s": m.work_end_s, "score": m.score, "confidence": m.confidence,
             "speed": m.speed, "pitch_shift_semitones": m.pitch_shift_semitones}
            for m in registry.identify_samples(samples)]


def _fingerprint_only(path: str, params: MusicEngineParams, *, match_spec: str | None = None,
                      registry: "Registry | None" = None) -> dict:
    try:
        audio = decode_audio(path, sample_rate_hz=params.sample_rate_hz, max_duration_s=MAX_WORK_DURATION_S + 1)
        if audio.duration_s > MAX_WORK_DURATION_S:
            return {"path": path, "error": f"longer than {MAX_WORK_DURATION_S / 3600:g} hours; split it"}
        if audio.duration_s < 1.0:
            return {"path": path, "error": f"too short to identify ({audio.duration_s:.2f} s; at least 1 s needed)"}
        keys, frames, midis = engine.index_hashes(audio.samples, params)
        if keys.size == 0:
            return {"path": path, "error": "no distinctive sound found (silent or constant)"}
        result = {"path": path, "duration_s": audio.duration_s, "keys": keys, "frames": frames, "midis": midis}
        if match_spec is not None or registry is not None:
            result["matches"] = _conflict_matches(audio.samples, params, match_spec, registry)
        return result
    except DecodeError as exc:
        return {"path": path, "error": exc.reason}
    except ConsentryError as exc:
        return {"path": path, "error": str(exc)}
    except MemoryError:
        return {"path": path, "error": "too large to decode in memory"}


class Registry:
    """A registry of works and their AI-use terms, with a fingerprint index.

    Parameters
    ----------
    store : SQLStore
        An :class:`~consentry.store.sqlite.SQLiteStore` or a
        :class:`~consentry.store.postgres.PostgresStore`.
    params : MusicEngineParams
        Engine parameters; fingerprints are only compared under the same ones.
    """

    def __init__(self, store: SQLStore, *, params: MusicEngineParams = DEFAULT_PARAMS) -> None:
        self.store = store
        self.params = params
        self.param_hash = params.param_hash()

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike = "consentry.db", *, create: bool = True,
             params: MusicEngineParams = DEFAULT_PARAMS) -> "Registry":
        """Open the registry ``path``, creating it if it does not exist.

        ``path`` is an SQLite file, or a PostgreSQL URL
        (``postgresql://user@host/database``, docs/postgres.md) for a registry
        shared by several machines.
        """
        if is_postgres_url(path):
            from consentry.store.postgres import PostgresStore  # psycopg loads only for a PostgreSQL registry

            return cls(PostgresStore.open(str(path), create=create), params=params)
        return cls(SQLiteStore.open(path, create=create), params=params)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def path(self) -> Path | str:
        """The registry file (SQLite), or the URL with its password masked (PostgreSQL); for display.

        Use :attr:`spec` to open the registry again and :attr:`local_dir` for
        files kept with the registry.
        """
        return self.store.path

    @property
    def spec(self) -> str:
        """What :meth:`open` needs to open this registry again (e.g. in a worker process); may hold a password."""
        return self.store.spec

    @property
    def location(self) -> str:
        """The registry as messages and reports name it (no password)."""
        return self.store.location

    @property
    def local_dir(self) -> Path:
        """This machine's folder for the registry's local files (e.g. the evidence signing key)."""
        return self.store.local_dir

    # -- register ------------------------------------------------------------
    def register(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        creator: str | None = None,
        title: str | None = None,
        terms: str | Terms = "deny",
        price: float | None = None,
        currency: str | None = None,
        copyright_registered_on: str | None = None,
        first_published_on: str | None = None,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        batch_size: int = 32,
        batch_seconds: float = 30.0,
        melody: bool = False,
        detect_claims: bool = True,
        claim_rules=None,
        now: str | None = None,
        on_workers: Callable[[WorkerCount], None] | None = None,
    ) -> RegisterSummary:
        """Register audio files and folders (recursively).

        Idempotent: content already registered (same SHA-256) by the same
        creator, or registered again without a creator, is reported as a
        duplicate.  Content that another creator registered becomes a work of
        its own and opens an ownership claim between the two (listed in
        ``claims``; docs/claims.md); so does a file whose fingerprint match
        covers most of another creator's work or most of itself.  Undecodable
        files are reported in ``errors`` and skipped.  Works are committed in batches, each all-or-nothing, so an
        interruption leaves only whole batches behind.

        Parameters
        ----------
        paths : iterable of path
            Files and folders.
        creator, title : str, optional
            ``title`` defaults to the file's tags, else its name; it may only
            be given for a single file.
        terms : {"deny", "allow", "license"} or Terms
        price, currency : for ``terms="license"``.
        copyright_registered_on, first_published_on : str, optional
            ISO dates (``YYYY-MM-DD``) of a US copyright registration and of
            first publication, used by the exposure estimate.
        workers : int, optional
            Processes that fingerprint in parallel (default: all cores); at
            most one per core and one per file to fingerprint.
        progress : callable(done, total, path), optional
        melody : bool
            Also transcribe each work's melody (basic-pitch, in the worker
            processes) and store its notes for the melody check
            (docs/check.md). A work whose melody cannot be transcribed is
            still registered and listed in ``melody_errors``.
        detect_claims : bool
            Open ownership claims against other creators' works (default
            True). Each file is identified against the registry while it is
            fingerprinted, only when the registry holds works of other
            creators.
        claim_rules : consentry.domain.claims.ClaimRules, optional
            Deadlines of the claims opened (default: 30 days to answer).
        now : str, optional
            ISO time the claims are opened at (default: the clock).
        on_workers : callable(WorkerCount), optional
            Called once the number of processes is known (``.lowered``: fewer
            than ``workers`` asked for).

        Raises
        ------
        consentry.runtime.interrupts.Interrupted
            On Ctrl-C or SIGTERM, with ``kept = {"batches": ..., "works": ...}``
            (committed before it; the batch being committed is finished
            first).  Registering the same files again goes on from there.
        """
        summary = RegisterSummary()
        try:
            self._register(
                summary, paths, creator=creator, title=title, terms=terms, price=price, currency=currency,
                copyright_registered_on=copyright_registered_on, first_published_on=first_published_on,
                workers=workers, progress=progress, batch_size=batch_size, batch_seconds=batch_seconds, melody=melody,
                detect_claims=detect_claims, claim_rules=claim_rules, now=now, on_workers=on_workers)
        except KeyboardInterrupt as exc:
            raise Interrupted.after(exc, batches=summary.batches, works=len(summary.registered)) from None
        return summary

    def _register(self, summary: RegisterSummary, paths, *, creator, title, terms, price, currency,
                  copyright_registered_on, first_published_on, workers, progress, batch_size, batch_seconds, melody,
                  detect_claims, claim_rules, now, on_workers) -> RegisterSummary:
        started = time.perf_counter()
        the_terms = terms if isinstance(terms, Terms) else Terms(decision=terms, price=price, currency=currency)
        dates = {
            "copyright_registered_on": parse_date(copyright_registered_on, field="copyright_registered_on"),
            "first_published_on": parse_date(first_published_on, field="first_published_on"),
        }
        from consentry.services.articles import is_article_file, register_articles
        from consentry.services.media import folder_extensions

        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        articles = [p for p in paths if is_article_file(p)]  # a JSONL/CSV/Parquet of texts: one work per row
        if articles and title is not None:
            raise InputError("--title names one work; a file of articles takes each work's title from its rows")
        for p in articles:
            register_articles(self, p, summary, creator=creator, terms=the_terms, detect_claims=detect_claims,
                              claim_rules=claim_rules, now=now, **dates)
        paths = [p for p in paths if p not in articles]
        if articles and not paths:
            summary.seconds = time.perf_counter() - started
            return summary
        files = list(iter_audio_files(paths, extensions=folder_extensions()))
        if title is not None and len(files) != 1:
            raise FieldError("title", f"{{title}} names one work, but {len(files)} files were given; leave {{title}} out "
                                      "to use tags or file names")
        if creator is not None and (not str(creator).strip() or len(creator) > 256):
            raise FieldError("creator", f"{{creator}} {quote(creator)}: give a name of 1 to 256 characters")
        # Ownership claims (docs/claims.md): look for other creators' works only when there are some.
        known_works = self.works()
        # Works committed after this snapshot are checked again where the batch is committed (under the writer lock).
        snapshot_fp_id = max((w.fp_id for w in known_works), default=0)
        detect = detect_claims and any(w.creator is not None and w.creator != creator for w in known_works)
        same_content: dict[str, list[Work]] = {}  # sha256 -> other creators' live works with it
        conflicts: dict[str, list[dict]] = {}  # sha256 -> fingerprint matches found while fingerprinting
        total = len(files)
        done = 0
        todo: list[tuple[Path, str]] = []
        seen: dict[str, str] = {}
        for f in files:
            try:
                sha, _ = sha256_and_size(f)
            except OSError as exc:
                summary.errors.append((str(f), exc.strerror or str(exc)))
                done += 1
                continue
            except InputError as exc:
                summary.errors.append((str(f), str(exc).removeprefix(f"{f}: ")))
                done += 1
                continue
            existing = self.store.live_works_with_sha256(sha)
            mine = [w for w in existing if creator is None or w.creator in (creator, None)]
            if mine:
                summary.duplicates.append((str(f), mine[0].work_id))
                done += 1
            elif sha in seen:
                summary.duplicates.append((str(f), sha[:16]))
                done += 1
            else:
                seen[sha] = str(f)
                todo.append((f, sha))
                if existing:
                    same_content[sha] = existing
        if progress:
            progress(done, total, "")

        pending: list[tuple[Work, np.ndarray, Callable[[int], np.ndarray]]] = []
        melodies: dict[str, str] = {}  # sha256 -> notes JSON
        melody_engine = None
        if melody:
            from consentry.services.check.engines import melody_engine_id
            from consentry.engines.melody import ModelUnavailable

            try:
                melody_engine = melody_engine_id()
            except ModelUnavailable as exc:
                raise InputError(f"cannot store melodies: {exc}; or register with --no-melody") from None
        last_commit = time.monotonic()

        def flush() -> None:
            with deferred_interrupts():  # a batch is stored whole: works, index, claims and melodies
                commit()

        def commit() -> None:
            nonlocal pending, last_commit
            if pending:
                opened: list = []
                claims_for = None
                if detect_claims:
                    from consentry.services.claims import ownership_claims_at_commit

                    def claims_for(added: list[Work]) -> list:
                        # Under the writer lock, in the batch's transaction: the conflicts found before the lock,
                        # completed with the batches other registrations committed since the snapshot.
                        opened[:] = ownership_claims_at_commit(
                            self, added, snapshot_fp_id=snapshot_fp_id,
                            registered_here=[w.work_id for w in summary.registered],
                            matches={w.work_id: conflicts.get(w.sha256, []) for w in added},
                            same_content={w.work_id: same_content.get(w.sha256, []) for w in added},
                            now=now, rules=claim_rules)
                        return opened

                added = self.store.add_works(pending, claims_for=claims_for)
                for w, *_ in pending:
                    conflicts.pop(w.sha256, None)
                    same_content.pop(w.sha256, None)
                summary.batches += 1
                summary.registered.extend(added)
                summary.claims.extend(opened)
                self.store.put_work_melodies(
                    [(w.work_id, melody_engine, melodies.pop(w.sha256)) for w in added if w.sha256 in melodies],
                    computed_at=utc_now())
                melodies.clear()
                pending = []
            last_commit = time.monotonic()

        held_names: dict[str, str | None] = {}  # artist tag (casefolded) -> why it may not be used, or None

        def accept(result: dict, f: Path, sha: str) -> None:
            nonlocal done
            raise_if_stopping()
            done += 1
            work = held = None
            if "error" not in result and "medium" in result:  # another medium (consentry.services.media)
                from consentry.services.media import pending_work

                work = pending_work(result, f, sha, creator=creator, title=title, terms=the_terms, dates=dates,
                                    registered_at=utc_now())
                summary.warnings += [(str(f), result["warning"])] if result.get("warning") else []
                held = None if creator is not None else self._held_by_unbound_account(work[0].creator, held_names)
            elif "error" not in result:
                work = self._pending_work(result, f, sha, creator, title, the_terms, dates)
                held = None if creator is not None else self._held_by_unbound_account(work[0].creator, held_names)
            if "error" in result or held is not None:
                summary.errors.append((str(f), result.get("error") or held))
            else:
                pending.append(work)
                if result.get("matches"):
                    conflicts[sha] = result["matches"]
                if "notes_json" in result:
                    melodies[sha] = result["notes_json"]
                elif "melody_error" in result:
                    summary.melody_errors.append((str(f), result["melody_error"]))
                if len(pending) >= batch_size or time.monotonic() - last_commit > batch_seconds:
                    flush()
            if progress:
                progress(done, total, str(f))

        summary.workers = count = worker_count(workers, items=len(todo))
        if on_workers:
            on_workers(count)
        n_workers = count.workers
        if n_workers == 1:
            for f, sha in todo:
                accept(_fingerprint_file(str(f), self.params, melody, registry=self if detect else None), f, sha)
        else:
            # Results are accepted in input order (a small reorder buffer), so
            # works get their ids in the order they were given.  Ctrl-C is acted
            # on between waits (consentry.runtime.interrupts.polled).
            with polled(), process_pool(n_workers, initializer=limit_worker_threads) as pool:
                running: dict = {}
                ready: dict[int, dict] = {}
                next_submit = next_accept = 0
                while next_accept < len(todo):
                    while next_submit < len(todo) and len(running) + len(ready) < 4 * n_workers:
                        f, _ = todo[next_submit]
                        running[pool.submit(_fingerprint_file, str(f), self.params, melody,
                                            self.spec if detect else None)] = next_submit
                        next_submit += 1
                    finished, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    raise_if_stopping()
                    for fut in finished:
                        ready[running.pop(fut)] = fut.result()
                    while next_accept in ready:
                        f, sha = todo[next_accept]
                        accept(ready.pop(next_accept), f, sha)
                        next_accept += 1
        flush()
        if summary.registered:  # batches each wrote a segment: merge where small ones pile up
            self.compact(tiered=True)
        summary.seconds = time.perf_counter() - started
        return summary

    def _held_by_unbound_account(self, name: str | None, cache: dict) -> str | None:
        """Why a work whose artist tag says ``name`` may not be registered under it, or None.

        A signed-up creator account that holds the name without an admin's
        binding would otherwise set the defaults that apply to the work
        (docs/server.md, roles), the same refusal as for ``--creator NAME``.
        """
        if not name:
            return None
        key = name.casefold()
        if key not in cache:
            from consentry.services.accounts import unbound_holder

            holder = unbound_holder(self.store, name)
            cache[key] = None if holder is None else (
                f"its artist tag names creator {name!r}, held by the account {holder['email']} that signed up with the "
                "name and is not bound to it: bind it first (consentry accounts bind), or give the creator with --creator")
        return cache[key]

    def _pending_work(self, result: dict, f: Path, sha: str, creator, title, terms: Terms, dates: dict):
        tags = read_tags(f)
        work = Work(
            work_id=sha[:16],
            fp_id=0,
            sha256=sha,
            title=title or tags.get("title") or f.stem,
            creator=creator or tags.get("artist"),
            source=str(f.resolve()),
            duration_s=float(result["duration_s"]),
            registered_at=utc_now(),
            engine=ENGINE_NAME,
            engine_version=self.params.version,
            param_hash=self.param_hash,
            n_hashes=int(result["keys"].size),
            terms=terms,
            **dates,
        )
        frames, midis = result["frames"], result["midis"]
        return work, result["keys"], lambda fp_id: engine.pack_postings(fp_id, frames, midis)

    # -- identify -------------------------------------------------------------
    def identify(self, query: str | os.PathLike, *, min_score: float | None = None) -> list[Match]:
        """Every registered work that occurs in the file ``query``, best first.

        The query's medium is sniffed from its content: audio goes to the music
        engine, other media to theirs (:mod:`consentry.services.media`).

        Raises
        ------
        DecodeError
            If the query cannot be decoded.
        """
        other = self.other_medium(query)
        if other is not None:
            from consentry.services.media import identify_path

            return identify_path(self, query, engine=other, min_score=min_score)
        audio = decode_audio(query, sample_rate_hz=self.params.sample_rate_hz)
        return self.identify_samples(audio.samples, min_score=min_score)

    @staticmethod
    def other_medium(query: str | os.PathLike):
        """The engine of ``query`` when it is not music, else None (music also when nothing claims it)."""
        from consentry.services.media import engine_for_path

        try:
            engine = engine_for_path(query)
        except ConsentryError:
            return None  # the decoder reports an unreadable file as it always has
        return None if engine is None or engine.medium == "music" else engine

    def identify_many(self, queries: Sequence[str], *, min_score: float | None = None) -> Iterable[IdentifyResult]:
        """Identify each query in turn; a query that fails gets an error result and the others go on."""
        unsearched: dict[str, int] = {}  # per medium, asked once
        for q in queries:
            try:
                other = self.other_medium(q)
                if other is not None:
                    from consentry.services.media import identify_signal, unsearched_works

                    signal = other.decode(q, name=os.path.basename(str(q)))
                    if other.medium not in unsearched:
                        unsearched[other.medium] = unsearched_works(self, other)
                    yield IdentifyResult(query=str(q), matches=identify_signal(self, other, signal, min_score=min_score,
                                                                               refine=True),
                                         medium=other.medium, size=signal.size, unit=signal.unit,
                                         unsearched_works=unsearched[other.medium])
                    continue
                audio = decode_audio(q, sample_rate_hz=self.params.sample_rate_hz)
                matches = self.identify_samples(audio.samples, min_score=min_score)
                yield IdentifyResult(query=str(q), matches=matches, duration_s=audio.duration_s)
            except DecodeError as exc:
                yield IdentifyResult(query=str(q), matches=[], error=exc.reason)

    def identify_samples(self, samples: np.ndarray, *, min_score: float | None = None,
                         searched_s: float | None = None) -> list[Match]:
        """Like :meth:`identify`, for mono float32 samples at ``params.sample_rate_hz``
        (the one identify: :func:`consentry.services.identify.identify_samples`, disputes applied).

        ``searched_s``: duration of the whole query these samples are a piece
        of (default: theirs); the threshold grows with it (``engine.min_score_for``).
        """
        from consentry.services.identify import identify_samples

        return identify_samples(self, samples, min_score=min_score, searched_s=searched_s)

    # -- manage ------------------------------------------------------------------
    def works(self, *, include_removed: bool = False) -> list[Work]:
        return self.store.list_works(include_removed=include_removed)

    def work(self, work_id: str) -> Work:
        return self.store.get_work(work_id)

    def set_terms(self, work_id: str, terms: Terms) -> Work:
        """Change a work's AI-training terms: a new version is appended, the old ones stay (and scans keep theirs)."""
        return self.store.set_terms(work_id, terms)

    def set_work_terms(self, work_id: str, changes: dict[str, UseTerms], *, valid_from: str | None = None,
                       valid_until: str | None = None, jurisdiction: str | None = None) -> Work:
        """Append a terms version for a work that changes these uses (the others, validity and jurisdiction kept).

        A licence unit that measures another medium than the work's (per-minute of a text, per-1000-words of
        a recording) is a :class:`FieldError` on ``unit``.
        """
        from consentry.domain.terms import UNIT_MEDIUM, UNITS

        medium = engines.medium_of_engine(self.work(work_id).engine)
        for t in changes.values():
            if UNIT_MEDIUM.get(t.unit or "", medium) != medium:
                fits = ", ".join(u for u in UNITS if UNIT_MEDIUM.get(u, medium) == medium)
                noun = {"music": "a recording", "text": "a text", "image": "an image"}.get(medium, medium)
                raise FieldError("unit", f"{{unit}} {quote(t.unit)} does not measure {noun}; choose one of {fits}")
        current = self.store.work_terms(work_id)
        return self.store.set_work_terms(work_id, current.with_uses(
            changes, valid_from=valid_from, valid_until=valid_until, jurisdiction=jurisdiction))

    def set_creator_terms(self, creator: str, changes: dict[str, UseTerms], *, valid_from: str | None = None,
                          valid_until: str | None = None, jurisdiction: str | None = None) -> tuple[int, TermsVersion]:
        """Append a version of a creator's default terms (for the uses their works leave open)."""
        creators = {w.creator for w in self.works()}
        if creator not in creators:
            known = ", ".join(sorted(c for c in creators if c)) or "none yet"
            raise InputError(f"--creator {creator!r}: no registered work has this creator (creators: {known})")
        current = self.store.creator_terms(creator)
        base = current[1] if current else TermsVersion()
        version = base.with_uses(changes, valid_from=valid_from, valid_until=valid_until, jurisdiction=jurisdiction)
        return self.store.set_creator_terms(creator, version), version

    def effective_terms(self, work_id: str) -> tuple[TermsVersion, dict[str, str]]:
        """The terms in force for every use of a work, and where each came from (work, creator, default)."""
        w = self.work(work_id)
        creator = self.store.creator_terms(w.creator) if w.creator else None
        return resolve_terms(self.store.work_terms(w.work_id), creator[1] if creator else None, w.terms)

    def terms_history(self, work_id: str) -> list[tuple[int, TermsVersion, str]]:
        """Every terms version of a work, oldest first: (version, terms as the work sets them, recorded_at)."""
        return self.store.terms_history(work_id)

    def terms_export(self) -> dict:
        """Every live work's effective terms for every use, and the creators' defaults (docs/terms-model.md)."""
        return self._terms_export()[0]

    def _terms_export(self) -> tuple[dict, list[Work]]:
        """:meth:`terms_export` and the live works it was made from (read in the same snapshot)."""
        from consentry import __version__

        with self.store.snapshot():
            works = self.works()
            work_terms = self.store.all_work_terms()
            creator_terms = self.store.all_creator_terms()
            recorded = self.store.terms_recorded_at()
        taken: set[str] = set()
        creator_ids: dict = {}
        for w in works:
            if w.creator not in creator_ids:
                creator_ids[w.creator] = creator_slug(w.creator, taken)
        export_works = []
        for w in works:
            default = creator_terms.get(w.creator)
            effective, source = resolve_terms(work_terms[w.work_id], default[1] if default else None, w.terms)
            export_works.append({
                "work_id": w.work_id, "title": w.title, "creator": w.creator, "creator_id": creator_ids[w.creator],
                "sha256": w.sha256, "duration_s": w.duration_s, "file_name": Path(w.source).name,
                "registered_at": w.registered_at, "terms_version": w.terms_version,
                "terms_recorded_at": recorded.get(w.work_id), "terms": effective.as_dict(), "terms_source": source,
            })
        by_creator: dict = {}  # creator -> work ids, in the works' order (one pass: a catalogue has many creators)
        for w in works:
            by_creator.setdefault(w.creator, []).append(w.work_id)
        creators = []
        for name, cid in creator_ids.items():
            default = creator_terms.get(name)
            creators.append({
                "creator_id": cid, "name": name if name is not None else "(unknown creator)",
                "default_terms": default[1].as_dict() if default else None,
                "default_terms_version": default[0] if default else None,
                "works": by_creator[name],
            })
        export = {"generated_at": utc_now(), "tool": {"name": "consentry", "version": __version__}, "uses": list(USES),
                  "creators": creators, "works": export_works}
        # Works under an open or contested ownership claim are reported with the strictest terms of the parties.
        from consentry.domain.disputes import apply_disputes

        return apply_disputes(export, self.store.active_ownership_claims()), works

    def set_work_dates(self, work_id: str, *, copyright_registered_on: str | None = None,
                       first_published_on: str | None = None) -> Work:
        """Record a work's US copyright registration date and first publication date (ISO dates)."""
        return self.store.set_work_dates(
            work_id,
            copyright_registered_on=parse_date(copyright_registered_on, field="copyright_registered_on"),
            first_published_on=parse_date(first_published_on, field="first_published_on"),
        )

    def remove(self, work_id: str) -> Work:
        """Remove a work: it is no longer matched (its record stays, marked removed)."""
        return self.store.remove_work(work_id)

    def compact(self, *, tiered: bool = False) -> int:
        """Merge index segments (each medium's apart) and drop removed works' entries; returns segments merged.

        ``tiered``: merge only where segments of about one size pile up (:mod:`consentry.store.tiers`), as
        registration does after each run, instead of all of a medium's segments into one."""
        merge = self.store.merge_tiers if tiered else self.store.compact
        merged = merge(engine=ENGINE_NAME, engine_version=self.params.version, param_hash=self.param_hash,
                       unpack_fp_id=lambda v: engine.unpack_postings(v)[0])
        for medium in (m for m in engines.media() if m != "music"):  # music's id is the registry's own
            try:
                other = engines.get(medium)
            except ImportError:
                continue
            merged += merge(**other.id.store_key(), unpack_fp_id=other.fp_ids)
        return merged

    def change_stamp(self) -> str:
        """A string that changes whenever a work, a removal, a terms version or a claim event is added (a cache key)."""
        return self.store.change_stamp()

    def end_open_transaction(self) -> None:
        """Roll back a transaction left open (a pooled registry goes back clean); never raises."""
        self.store.end_open_transaction()

    def backup(self, dest: str | os.PathLike) -> dict:
        """Copy this registry (database and index) to ``dest`` while it stays in use.

        See :meth:`consentry.store.sqlite.SQLiteStore.backup_to`; a PostgreSQL
        registry is backed up with ``pg_dump`` (docs/postgres.md).
        """
        if not isinstance(self.store, SQLiteStore):
            raise RegistryError(f"{self.path}: a PostgreSQL registry is backed up with pg_dump (docs/postgres.md)")
        done = self.store.backup_to(dest)
        copy = SQLiteStore.open(done["registry"], create=False)
        try:
            problem = copy.integrity_problem()
            done["works"] = len(copy.list_works(include_removed=True))
        finally:
            copy.close()
        if problem is not None:
            raise RegistryError(f"{done['registry']}: the backup fails SQLite's integrity check ({problem}); keep the original")
        return done

    def current_engine(self, engine_name: str) -> tuple[str, str] | None:
        """``(version, param_hash)`` a work fingerprinted by the engine named ``engine_name`` should have now: this
        registry's music parameters, else the default engine of that medium (None: no such engine here).  A work
        with another pair needs ``consentry reindex``."""
        if engine_name == ENGINE_NAME:
            return self.params.version, self.param_hash

        try:
            now = engines.by_engine_name(engine_name).id
        except (KeyError, ImportError):
            return None
        return now.version, now.param_hash

    def stats(self) -> dict:
        """The registry in numbers: works, ``hours`` of music, ``media`` (works and size per medium), index, engines.

        ``media`` is ``{medium: {"works", "size", "unit"}}``, size in the
        medium's unit (seconds, characters, pixels).  ``works_needing_reindex``
        counts works fingerprinted by another version or parameters of their
        medium's engine (``consentry reindex``).
        """

        s = self.store.stats()
        s["engine"] = {"name": ENGINE_NAME, "version": self.params.version, "param_hash": self.param_hash}
        media: dict[str, dict] = {}
        for e in s["engines"]:
            medium = engines.medium_of_engine(e["engine"])
            m = media.setdefault(medium, {"works": 0, "size": 0.0, "unit": _UNITS.get(medium, "")})
            m["works"] += e["works"]
            m["size"] += e.get("size", 0.0)
        s["media"] = media
        s["hours"] = media.get("music", {}).get("size", 0.0) / 3600.0
        s["works_needing_reindex"] = sum(
            e["works"] for e in s["engines"]
            if self.current_engine(e["engine"]) not in (None, (e["engine_version"], e["param_hash"]))
        )
        s["index_bytes_per_hour"] = s["index_bytes"] / s["hours"] if s["hours"] else 0.0
        return s

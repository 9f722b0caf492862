"""Background jobs of the server: register, identify, scan, check, enroll.

A job is a row in the store (``jobs``): its kind, owner, parameters (JSON),
status (``queued``, ``running``, ``succeeded``, ``failed``), progress
(``done``/``total``) and result (JSON). A job on several files that all
failed is ``failed``; one where only some failed is ``succeeded`` and lists
them (:func:`job_outcome`).  :class:`JobRunner` runs them on a
small thread pool in the server process; each job opens its own registry
connection and calls the same service functions as the CLI.

Restarts: finished jobs are rows and stay.  When the server starts,
:meth:`JobRunner.recover` looks at the jobs a previous process left queued
or running: every kind is safe to run again (registration is idempotent --
content already registered is reported, not registered twice; a scan
resumes the stored scan, redoing only unfinished items; identify, check and
voice enrolment are idempotent), so they are queued again, unless their
uploaded input is gone or they were interrupted ``MAX_ATTEMPTS`` times, in
which case they fail with "interrupted by a server restart; submit it again".
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from consentry.store import store_of
from consentry.services.accounts import audit, iso, now_utc
from consentry.domain.errors import ConsentryError, DecodeError, InputError, RegistryError
from consentry.runtime.pools import worker_count

log = logging.getLogger("consentry.services.jobs")

KINDS = ("register", "identify", "scan", "check", "enroll")
#: A job interrupted by this many restarts is failed instead of run again.
MAX_ATTEMPTS = 3
RESTART_MESSAGE = "interrupted by a server restart; submit it again"


class ServerBusy(RegistryError):
    """Another server process already uses the data folder."""


class ServerStopping(Exception):
    """Raised inside a job (at its next progress report) when the server shuts down; the job is queued again."""


@dataclass
class JobContext:
    """What a job handler gets."""

    job: dict
    registry: object
    settings: object
    resumed: bool
    progress: Callable[[int, int | None], None]
    set_params: Callable[[dict], None]

    @property
    def params(self) -> dict:
        return self.job["params"]


def new_job_id() -> str:
    return f"job-{secrets.token_hex(8)}"


class JobRunner:
    """Runs jobs on ``threads`` threads; ``open_registry()`` gives a new Registry for each job.

    Parameters
    ----------
    open_registry : callable
        Returns a fresh :class:`consentry.services.registry.Registry` (closed by the runner).
    settings : ServerSettings
    handlers : dict, optional
        Kind -> function(JobContext) -> result dict (default: :data:`HANDLERS`).
    """

    def __init__(self, *, open_registry: Callable[[], object], settings, handlers: dict | None = None) -> None:
        self.open_registry = open_registry
        self.settings = settings
        self.handlers = dict(handlers or HANDLERS)
        threads = worker_count(settings.job_threads)  # at most one job per core
        if threads.lowered:
            log.warning("%s", threads.describe(option="job_threads"))
        self._pool = ThreadPoolExecutor(max_workers=threads.workers, thread_name_prefix="consentry-job")
        self._lock_fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> list[dict]:
        """Take the data folder's lock and recover the jobs a previous process left; returns what was done to them."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.data_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServerBusy(f"{self.settings.data_dir}: another consentry server uses this data folder; "
                             "stop it or give another --data-dir") from None
        self._lock_fd = fd
        return self.recover()

    def shutdown(self, *, wait: bool = False) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- submitting ---------------------------------------------------------------
    def submit(self, store, *, kind: str, account_id: str, params: dict) -> dict:
        """Store a queued job and schedule it; returns its row (``store``: the registry, or its store)."""
        store = store_of(store)
        if kind not in self.handlers:
            raise ValueError(f"unknown job kind {kind!r}")
        row = {"job_id": new_job_id(), "kind": kind, "account_id": account_id, "status": "queued", "params": params,
               "created_at": iso(now_utc()), "started_at": None, "finished_at": None, "done": 0, "total": None,
               "attempts": 0, "result": None, "error": None}
        store.add_job(row)
        self._schedule(row["job_id"], resumed=False)
        return row

    def _schedule(self, job_id: str, *, resumed: bool) -> None:
        if not self._closed:
            self._pool.submit(self._run, job_id, resumed)

    def recover(self) -> list[dict]:
        """Queue again (or fail) the jobs a stopped server left queued or running."""
        out = []
        reg = self.open_registry()
        try:
            store = reg.store
            for job in reversed(store.list_jobs(statuses=("queued", "running"), limit=100_000)):
                was_running = job["status"] == "running"
                missing = [p for p in _input_paths(job) if not Path(p).exists()]
                if missing:
                    store.update_job(job["job_id"], status="failed", finished_at=iso(now_utc()),
                                     error=f"{RESTART_MESSAGE} (its uploaded input is gone)")
                    out.append({"job_id": job["job_id"], "action": "failed"})
                elif job["attempts"] >= MAX_ATTEMPTS:
                    store.update_job(job["job_id"], status="failed", finished_at=iso(now_utc()),
                                     error=f"{RESTART_MESSAGE} (interrupted {job['attempts']} times)")
                    out.append({"job_id": job["job_id"], "action": "failed"})
                else:
                    store.update_job(job["job_id"], status="queued")
                    self._schedule(job["job_id"], resumed=was_running)
                    out.append({"job_id": job["job_id"], "action": "resumed" if was_running else "requeued"})
                log.info("job %s (%s) after restart: %s", job["job_id"], job["kind"], out[-1]["action"])
        finally:
            reg.close()
        return out

    # -- running ----------------------------------------------------------------
    def _error_for_owner(self, job: dict, message: str) -> str:
        """A job's error as its owner reads it: each uploaded file named as it was sent, never by its server path,
        and any other path in the server's data folder cut to its last part."""
        p = job.get("params") or {}
        pairs = [(p.get("path"), p.get("name"))]
        pairs += [(path, (upload or {}).get("original_name")) for path, upload in zip(p.get("paths") or [], p.get("uploads") or [])]
        for path, name in pairs:
            if path and name:
                message = message.replace(str(path), str(name))
        data_dir = str(Path(self.settings.data_dir).absolute())
        return re.sub(re.escape(data_dir) + r"[^\s:;,'\"]*", lambda m: Path(m.group(0)).name or "(server file)", message)

    def _run(self, job_id: str, resumed: bool) -> None:
        try:
            reg = self.open_registry()
        except Exception:  # noqa: BLE001 - the registry is gone: nothing to record into
            log.exception("job %s: cannot open the registry", job_id)
            return
        try:
            store = reg.store
            job = store.get_job(job_id)
            if job is None or job["status"] != "queued":
                return
            store.update_job(job_id, status="running", started_at=iso(now_utc()), attempts=int(job["attempts"]) + 1)
            job = store.get_job(job_id)
            last = [0.0]

            def progress(done: int, total: int | None = None) -> None:
                if self._closed:
                    raise ServerStopping()
                t = time.monotonic()
                if t - last[0] >= 0.25:
                    last[0] = t
                    store.update_job(job_id, done=int(done), **({"total": int(total)} if total is not None else {}))

            def set_params(changes: dict) -> None:
                job["params"].update(changes)
                store.update_job(job_id, params=job["params"])

            ctx = JobContext(job=job, registry=reg, settings=self.settings, resumed=resumed or job["attempts"] > 1 or bool(job["params"].get("resume")),
                             progress=progress, set_params=set_params)
            try:
                result = self.handlers[job["kind"]](ctx)
            except ServerStopping:  # run again, resuming, at the next start; a clean stop is not an interruption
                job["params"]["resume"] = True
                store.update_job(job_id, status="queued", attempts=max(0, int(job["attempts"]) - 1), params=job["params"])
                return
            except ConsentryError as exc:
                store.update_job(job_id, status="failed", finished_at=iso(now_utc()),
                                 error=self._error_for_owner(job, str(exc)))
                return
            except Exception as exc:  # noqa: BLE001 - a bug: recorded as one line, logged in full
                log.exception("job %s (%s) failed", job_id, job["kind"])
                store.update_job(job_id, status="failed", finished_at=iso(now_utc()),
                                 error=self._error_for_owner(job, f"internal error: {type(exc).__name__}: {exc}"))
                return
            done = result.pop("_done", None)
            changes = {"status": "succeeded", "finished_at": iso(now_utc()), "result": result}
            if done is not None:
                changes["done"] = int(done)
                changes["total"] = int(result.pop("_total", done))
            changes.update(job_outcome(result, total=changes.get("total")))
            store.update_job(job_id, **changes)
        finally:
            reg.close()


#: Failed files named in a failed job's one-line error; the rest are counted.
ERROR_NAMES_SHOWN = 5


def job_outcome(result: dict, *, total: int | None) -> dict:
    """How a job that ran to its end came out, from the files that failed (docs/server.md, "Job outcomes").

    A handler that takes several files returns ``_failed`` (how many of its
    ``total`` files failed) and ``errors`` (``{"name", "error"}`` per failed
    file). The result then shows ``failed``; when every file failed, the job
    is ``failed``, its error one line naming each file's reason (the first
    :data:`ERROR_NAMES_SHOWN`); otherwise it is ``succeeded``, the failed
    files in ``result.errors``.

    Returns
    -------
    dict
        ``{}`` (succeeded, nothing to change) or ``{"status": "failed", "error": ...}``.
    """
    failed, noun = result.pop("_failed", None), result.pop("_item_noun", "file")
    if failed is None:
        return {}
    result["failed"] = failed = int(failed)
    if not total or failed < total:
        return {}
    reasons = []
    for e in (result.get("errors") or [])[:ERROR_NAMES_SHOWN]:
        name, error = str(e.get("name") or ""), str(e.get("error") or "failed")
        reasons.append(error if not name or error.startswith(f"{name}: ") else f"{name}: {error}")
    more = failed - len(reasons)
    error = f"every {noun} failed ({failed} of {total}): " + "; ".join(reasons)
    error += f"; and {more} more" if more > 0 else ""
    return {"status": "failed", "error": " ".join(error.split())}


def _input_paths(job: dict) -> list[str]:
    p = job["params"]
    out = list(p.get("paths") or [])
    if p.get("path"):
        out.append(p["path"])
    return out


def match_public(match, registry=None) -> dict:
    """A match as the server shows it: the work file's name (``source_name``: as its owner sent it when
    ``registry`` can tell, else its base name), never its server path."""
    d = match.as_dict()
    source = d.pop("source", "") or ""
    if registry is not None:
        from consentry.services.check.service import given_name

        d["source_name"] = given_name(registry, source)
    else:
        d["source_name"] = Path(source).name or None
    return d


def _work_public(work) -> dict:
    """A work as job results show it: never the server path of its file."""
    d = work.as_dict()
    d.pop("source", None)
    d.pop("fp_id", None)
    return d


def _audit(ctx: JobContext, action: str, *, target_kind: str, target_id: str | None, details: dict) -> None:
    """An audit record made by a job, in the name of the job's owner."""
    from consentry.domain.accounts import Principal

    account = ctx.registry.store.get_account(ctx.job["account_id"])
    principal = Principal(account_id=account["account_id"], email=account["email"], role=account["role"],
                          creator=account["creator"], via="job") if account else None
    audit(ctx.registry.store, principal=principal, action=action, target_kind=target_kind, target_id=target_id,
          ip=ctx.params.get("ip"), details={"job_id": ctx.job["job_id"], **details})


# ---------------------------------------------------------------- handlers
def run_register(ctx: JobContext) -> dict:
    """Register uploaded audio files for one creator, one at a time (each a batch of its own)."""
    from consentry.services.accounts import record_registrant
    from consentry.io.decode import read_tags
    from consentry.domain.works import Terms

    p = ctx.params
    terms = Terms(decision=p["terms"]["decision"], price=p["terms"].get("price"), currency=p["terms"].get("currency"))
    works, errors, duplicates, claims, melody_errors, warnings = [], [], [], [], [], []
    failed = set()  # upload ids that registered nothing
    total = len(p["paths"])
    for n, (path, upload) in enumerate(zip(p["paths"], p["uploads"])):
        title = p.get("title")
        if not title:
            try:
                title = read_tags(path).get("title")
            except Exception:  # noqa: BLE001 - unreadable tags: the upload's name will do
                title = None
            title = title or Path(upload["original_name"]).stem or upload["upload_id"]
        try:
            summary = ctx.registry.register([path], creator=p["creator"], title=title, terms=terms,
                                            copyright_registered_on=p.get("copyright_registered_on"),
                                            first_published_on=p.get("first_published_on"),
                                            workers=1, melody=bool(p.get("melody")))
        except InputError as exc:  # the reason names the upload, not its server path
            errors.append({"upload_id": upload["upload_id"], "name": upload["original_name"],
                           "error": str(exc).replace(path, upload["original_name"])})
            failed.add(upload["upload_id"])
            ctx.progress(n + 1, total)
            continue
        # the account the works were registered through: a creator account controls them (docs/server.md, roles)
        record_registrant(ctx.registry.store, [w.work_id for w in summary.registered], account_id=ctx.job["account_id"])
        for w in summary.registered:
            works.append({"upload_id": upload["upload_id"], "name": upload["original_name"], **_work_public(w)})
        for _, work_id in summary.duplicates:
            try:
                existing = ctx.registry.work(work_id)
            except ConsentryError:
                existing = None
            if existing is not None and existing.creator == p["creator"]:
                works.append({"upload_id": upload["upload_id"], "name": upload["original_name"], **_work_public(existing),
                              "already_registered": True})
            else:
                duplicates.append({"upload_id": upload["upload_id"], "name": upload["original_name"], "work_id": work_id})
        for _, reason in summary.errors:
            errors.append({"upload_id": upload["upload_id"], "name": upload["original_name"],
                           "error": f"{upload['original_name']}: {reason}"})
            failed.add(upload["upload_id"])
        for _, reason in summary.melody_errors:
            melody_errors.append({"upload_id": upload["upload_id"], "name": upload["original_name"],
                                  "error": f"registered, but its melody was not stored: {reason}"})
        for _, reason in summary.warnings:  # registered, but never findable (an image of one colour)
            warnings.append({"upload_id": upload["upload_id"], "name": upload["original_name"],
                             "warning": f"{upload['original_name']}: registered, but {reason}"})
        for c in getattr(summary, "claims", None) or []:
            claims.append(c.as_dict() if hasattr(c, "as_dict") else c)
            _audit(ctx, "claims.open", target_kind="claim", target_id=c.claim_id,
                   details={"work_a": c.work_a, "work_b": c.work_b, "basis": c.basis.get("match")})
        ctx.progress(n + 1, total)
    new_ids = [w["work_id"] for w in works if not w.get("already_registered")]
    if new_ids:
        _audit(ctx, "works.register", target_kind="work", target_id=new_ids[0] if len(new_ids) == 1 else None,
               details={"work_ids": new_ids, "creator": p["creator"], "terms": p["terms"]})
    return {"works": works, "duplicates": duplicates, "errors": errors, "claims": claims,
            "melody_errors": melody_errors, "warnings": warnings, "_done": total, "_failed": len(failed)}


def run_identify(ctx: JobContext) -> dict:
    """Identify one uploaded file: a long clip, a text or an image."""
    p = ctx.params
    return {**identify_upload(ctx.registry, p["path"], p["name"], min_score=p.get("min_score")), "_done": 1}


def identify_upload(registry, path: str, name: str, *, min_score: float | None = None,
                    max_duration_s: float | None = None) -> dict:
    """What the server answers for an uploaded query: ``{"name", "medium", "matches"}`` and the audio's
    ``duration_s``; errors name the upload as its sender called it, never its server path."""
    from consentry.io.decode import decode_audio

    other = registry.other_medium(path)
    try:
        if other is not None:  # a text or an image (issues 18, 19)
            from consentry.services.media import identify_path, unsearched_works

            matches = identify_path(registry, path, engine=other, min_score=min_score)
            unsearched = unsearched_works(registry, other)  # an older engine version's works: reindex them
            return {"name": name, "medium": other.medium, "matches": [match_public(m, registry) for m in matches],
                    **({"unsearched_works": unsearched} if unsearched else {})}
        audio = decode_audio(path, sample_rate_hz=registry.params.sample_rate_hz, name=name,
                             max_duration_s=None if max_duration_s is None else max_duration_s + 1.0)
    except DecodeError as exc:
        raise InputError(f"{name}: {exc.reason}") from None
    except ConsentryError as exc:
        raise InputError(str(exc).replace(str(path), name)) from None
    if max_duration_s is not None and audio.duration_s > max_duration_s:
        raise InputError(f"{name}: longer than {max_duration_s:g} s; send it to POST /api/v1/identify/jobs")
    matches = registry.identify_samples(audio.samples, min_score=min_score)
    return {"name": name, "medium": "music", "duration_s": round(audio.duration_s, 3),
            "matches": [match_public(m, registry) for m in matches]}


def run_scan(ctx: JobContext) -> dict:
    """Scan an uploaded dataset (resuming the stored scan after a restart)."""
    from consentry.services.scan import scan_dataset
    from consentry.io.sources import FetchOptions

    p = ctx.params
    store = ctx.registry.store
    account_id = ctx.job["account_id"]

    def on_scan_id(scan_id: str, resumed: bool) -> None:
        store.set_owner("scan", [scan_id], account_id=account_id, at=iso(now_utc()))
        if p.get("scan_id") != scan_id:
            ctx.set_params({"scan_id": scan_id})

    count = [0]

    def progress(done: int, item_id: str) -> None:
        count[0] = done
        ctx.progress(done, p.get("total_items"))

    def on_workers(count) -> None:
        if count.lowered:
            log.warning("%s", count.describe(option="scan_workers"))

    executor, workers = None, ctx.settings.scan_workers
    if ctx.settings.ray_address:  # the scan's items on a Ray cluster (docs/cluster.md)
        from consentry.cluster.executor import RayExecutor

        workers = ctx.settings.ray_workers or None
        executor = RayExecutor(ctx.settings.ray_address, workers=workers, index_shards=ctx.settings.index_shards)
    try:
        summary = scan_dataset(ctx.registry, p["path"], workers=workers, resume=ctx.resumed,
                               fetch_urls=bool(p.get("fetch_urls")), fetch=FetchOptions(), progress=progress,
                               on_scan_id=on_scan_id, min_score=p.get("min_score"), on_workers=on_workers,
                               executor=executor)
    finally:
        if executor is not None:
            executor.close()
    scan_id = summary["scan_id"]
    _audit(ctx, "scans.create", target_kind="scan", target_id=scan_id,
           details={"source": p["name"], "totals": summary["totals"], "resumed": ctx.resumed})
    out = {"scan_id": scan_id, "status": summary["status"], "totals": summary["totals"], "resumed": ctx.resumed,
           "_done": summary["totals"]["items"], "_failed": summary["totals"].get("error", 0), "_item_noun": "item"}
    if out["_failed"]:  # the first items that could not be checked, with why (all of them are in the scan's report)
        out["errors"] = [{"name": e["item_id"], "error": e["error"]}
                         for e in store.scan_error_reasons(scan_id, examples=ERROR_NAMES_SHOWN)["examples"]]
    return out


def _without_server_paths(result: dict) -> dict:
    """A check result as a job shows it: each finding's ``source`` path (another creator's upload, a server
    folder) dropped; its ``source_name`` (a base name) stays."""
    out = dict(result)
    for kind in ("recording", "melody", "voice"):
        if isinstance(out.get(kind), list):
            out[kind] = [{k: v for k, v in item.items() if k != "source"} if isinstance(item, dict) else item
                         for item in out[kind]]
    return out


def run_check(ctx: JobContext) -> dict:
    """Check one uploaded AI output; write its evidence bundle when something was found."""
    from consentry.services.check.image import is_image_output
    from consentry.services.check.service import check_output, prepare_check, write_evidence
    from consentry.services.check.text import is_text_output

    p = ctx.params
    if is_image_output(p["path"]):
        return _check_image(ctx)
    if is_text_output(p["path"]):
        return _check_text(ctx)
    check_ctx = prepare_check(ctx.registry, melody=bool(p.get("melody", True)), voice=bool(p.get("voice", True)))
    res = check_output(check_ctx, p["path"])
    if res.error is not None:
        raise InputError(f"{p['name']}: {res.error}")  # the runner names the upload, never its server path
    out = _without_server_paths(res.as_dict())
    out["output"] = p["name"]
    evidence = None
    if p.get("evidence", True) and res.has_findings:
        folder = ctx.settings.outputs_dir / ctx.job["job_id"]
        bundle = write_evidence(check_ctx, res, folder, pdf=ctx.settings.evidence_pdf, output_name=p["name"])
        evidence = bundle.name
    out["evidence"] = evidence
    out["_done"] = 1
    return out


def _check_image(ctx: JobContext) -> dict:
    """An image output: the registered images it reproduces (issue 19), with a bundle when any."""
    from consentry.services.check.image import check_image_output, write_image_evidence

    p = ctx.params
    res = check_image_output(ctx.registry, p["path"])
    if res.error is not None:
        raise InputError(f"{p['name']}: {res.error}".replace(p["path"], p["name"]))
    res.path, res.output = p["path"], p["name"]  # read from the server's file, named as its sender named it
    out = {**res.as_dict(), "output": p["name"], "evidence": None, "_done": 1}
    if p.get("evidence", True) and res.has_findings:
        folder = ctx.settings.outputs_dir / ctx.job["job_id"]
        out["evidence"] = write_image_evidence(ctx.registry, res, folder).name
    return out


def _check_text(ctx: JobContext) -> dict:
    """A text output, or a JSONL of outputs: the registered passages each reproduces (issue 18); the bundle
    of the first output with findings."""
    from consentry.services.check.text import check_text_outputs, write_text_evidence

    p = ctx.params
    results = check_text_outputs(ctx.registry, p["path"])
    if len(results) == 1 and results[0].error is not None:
        raise InputError(f"{p['name']}: {results[0].error}".replace(p["path"], p["name"]))
    for r in results:  # read from the server's file, named as its sender named it
        r.path, r.output = p["path"], r.output.replace(p["path"], p["name"])
    first = results[0].as_dict() if len(results) == 1 else {"medium": "text"}
    out = {**first, "output": p["name"], "outputs": [r.as_dict() for r in results] if len(results) > 1 else None,
           "findings": sum(len(r.passages) for r in results), "evidence": None, "_done": 1}
    found = [r for r in results if r.has_findings]
    if p.get("evidence", True) and found:
        folder = ctx.settings.outputs_dir / ctx.job["job_id"]
        out["evidence"] = write_text_evidence(ctx.registry, found[0], folder).name
    return out


def run_enroll(ctx: JobContext) -> dict:
    """Enrol uploaded voice samples for one creator."""
    from consentry.services.check.service import enroll_voices

    p = ctx.params
    outcomes = enroll_voices(ctx.registry, creator=p["creator"], paths=p["paths"])
    names = {path: u["original_name"] for path, u in zip(p["paths"], p["uploads"])}
    voices, errors = [], []
    for o in outcomes:
        name = names.get(o.path, Path(o.path).name)
        if o.error:
            errors.append({"name": name, "error": o.error.replace(o.path, name)})
        else:
            voices.append({"name": name, "new": o.new, **o.voice.as_dict(), "source_name": name,
                           # its telephone-band print (docs/voice.md), or why the speech gate refused the band copy
                           "band_print": o.band_voice is not None,
                           **({"band_print_error": o.band_error.replace(o.path, name)} if o.band_error else {})})
    new = [v["voice_id"] for v in voices if v["new"]]
    if new:
        _audit(ctx, "voices.enroll", target_kind="creator", target_id=p["creator"], details={"voice_ids": new})
    return {"voices": voices, "errors": errors, "_done": len(outcomes), "_failed": len(errors)}


HANDLERS: dict[str, Callable[[JobContext], dict]] = {
    "register": run_register, "identify": run_identify, "scan": run_scan, "check": run_check, "enroll": run_enroll,
}


def get_job(registry, job_id: str) -> dict | None:
    """The stored job of an id, or None."""
    return registry.store.get_job(job_id)


def jobs_of(registry, *, account_id: str | None = None, kind: str | None = None, statuses=None,
            limit: int = 100) -> list[dict]:
    """Jobs, newest first: of one account (None: every account), of one kind, in these statuses."""
    return registry.store.list_jobs(account_id=account_id, kind=kind, statuses=statuses, limit=limit)

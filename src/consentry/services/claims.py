"""Claims and disputes: the use cases (docs/claims.md).

Every function takes the :class:`~consentry.services.registry.Registry` first and the
acting party as a plain value (:class:`~consentry.domain.claims.Actor`), so
the CLI, the API and the web app call the same code:

>>> from consentry.domain.claims import Actor
>>> from consentry.services.claims import answer_claim, list_claims
>>> mine = list_claims(reg, actor=Actor.creator("Ana Lima"))              # doctest: +SKIP
>>> answer_claim(reg, mine[0].claim_id, actor=Actor.creator("Ana Lima"),
...              contest=True, note="I recorded it in 2019")              # doctest: +SKIP

Times (``now``) are ISO 8601 text or aware datetimes; the default is the
clock. Deadlines come from :class:`~consentry.domain.claims.ClaimRules`
(default 30 days to answer, 30 days to decide). Errors are
:class:`~consentry.domain.claims.ClaimError` (an ``InputError``: one line,
exit code 1 on the command line, HTTP 4xx on the server):
``ClaimNotFoundError`` for an unknown id (a 404), the rest a refused action
(:class:`~consentry.domain.claims.NotAPartyError` when the actor is not a
party: a 403; any other ``ClaimError``: a 409).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from consentry.domain.clock import now_iso
from consentry.domain.errors import FieldError, InputError, quote
from consentry.domain.audit import covered_seconds
from consentry.domain.works import Work
from consentry.domain.claims import (
    ACTIVE_STATES, DEFAULT_RULES, STATES, SYSTEM, Actor, Claim, ClaimError, ClaimRules, NotAPartyError, apply,
    due_action, iso, open_claim, parse_time,
)

#: An ownership claim is opened when a fingerprint match covers at least this
#: share of the new work or of the registered one (see docs/claims.md).
OWNERSHIP_MIN_SHARE = 0.5
#: Largest evidence bundle accepted (bytes); the verifier's own cap.
MAX_EVIDENCE_BYTES = 512 << 20


def _now(now: str | datetime | None) -> str:
    return iso(parse_time(now, field="now")) if now is not None else now_iso()


# -- detection at registration ---------------------------------------------------------
def _shares(work: Work, other: Work, segments: Sequence[Mapping]) -> tuple[float, float]:
    """(share of ``work`` covered, share of ``other`` covered) by the matched segments.

    Along one axis (seconds, characters); for images, of areas: each side's largest box over the image's
    pixel count (its ``duration_s``). The boxes are the query's frame mapped into the work and back when
    the registered file could be read again, else they span the matched points (smaller: fewer claims)."""
    if segments and all(s.get("query_box") and s.get("work_box") for s in segments):
        def area(box) -> float:
            return max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))

        mine = max(area(s["query_box"]) for s in segments)
        theirs = max(area(s["work_box"]) for s in segments)
    else:
        mine = covered_seconds((s["query_start_s"], s["query_end_s"]) for s in segments)
        theirs = covered_seconds((s["work_start_s"], s["work_end_s"]) for s in segments)
    return (min(1.0, mine / work.duration_s) if work.duration_s else 0.0,
            min(1.0, theirs / other.duration_s) if other.duration_s else 0.0)


def _identify_source(registry, work: Work) -> list[dict]:
    """Fingerprint matches of a registered work's own file against the registry (for re-checking later)."""
    try:
        matches = registry.identify(work.source)
    except InputError:
        return []
    from consentry.services.media import box_fields

    return [{"work_id": m.work_id, "creator": m.creator, "query_start_s": m.query_start_s, "query_end_s": m.query_end_s,
             "work_start_s": m.work_start_s, "work_end_s": m.work_end_s, "score": m.score,
             "confidence": m.confidence, **box_fields(m.detail or {})} for m in matches]


def detect_ownership_conflicts(registry, works: Sequence[Work], *, matches: Mapping[str, list] | None = None,
                               same_content: Mapping[str, list] | None = None, now: str | datetime | None = None,
                               rules: ClaimRules | None = None, min_share: float = OWNERSHIP_MIN_SHARE) -> list[Claim]:
    """Find the ownership conflicts of ``works`` (:func:`find_ownership_conflicts`) and store the claims opened."""
    opened = find_ownership_conflicts(registry, works, matches=matches, same_content=same_content, now=now,
                                      rules=rules, min_share=min_share)
    registry.store.add_claims(opened)
    return opened


def ownership_claims_at_commit(registry, works: Sequence[Work], *, snapshot_fp_id: int,
                               registered_here: Iterable[str] = (), matches: Mapping[str, list] | None = None,
                               same_content: Mapping[str, list] | None = None, now: str | datetime | None = None,
                               rules: ClaimRules | None = None,
                               identify_again: Callable[[Work], list[dict]] | None = None) -> list[Claim]:
    """The ownership claims of a registration batch, decided where it is committed (not stored here).

    Called by ``store.add_works(..., claims_for=...)``: under the writer lock
    and inside the transaction that inserts ``works``, so the store's reads
    see every batch committed before this one. ``same_content`` and
    ``matches`` were found before the lock, against the registry as it was
    when the registration started (works up to fp id ``snapshot_fp_id``);
    here they are completed with what was committed since: other creators'
    live works with the same SHA-256 (looked up again), and, when other
    creators' works were committed since the snapshot, fingerprint matches
    of each new work's file against those works (identified again). So two
    creators registering the same recording at the same moment get their
    claim, as they do one after the other.

    Parameters
    ----------
    works : sequence of Work
        The works of the batch, with their fp ids (inserted, not committed).
    snapshot_fp_id : int
        Largest fp id of the works known when the registration started
        (0 for an empty registry).
    registered_here : iterable of str
        Works committed by earlier batches of the same registration: files
        given in one call are not compared with each other.
    identify_again : callable(Work) -> list of match dicts, optional
        How a new work is identified again (default: its file, read from
        ``work.source``); a row of a file of articles, which has no file of
        its own, is identified from the text read at registration.
    """
    store = registry.store
    mine = {w.work_id for w in works} | set(registered_here)
    named = [w for w in works if w.creator is not None and w.removed_at is None]
    if not named:
        return []
    content = {w.work_id: list((same_content or {}).get(w.work_id, [])) for w in named}
    found = {w.work_id: list((matches or {}).get(w.work_id, [])) for w in named}
    for w in named:
        known = {o.work_id for o in content[w.work_id]}
        content[w.work_id] += [o for o in store.live_works_with_sha256(w.sha256)
                               if o.work_id not in mine and o.work_id not in known
                               and o.creator is not None and o.creator != w.creator]
    first_new = min(w.fp_id for w in works)
    since = [o for o in store.works_by_fp_id(range(snapshot_fp_id + 1, first_new)).values()
             if o.removed_at is None and o.creator is not None and o.work_id not in mine]
    for w in named:
        fresh = ({o.work_id for o in since if o.creator != w.creator} - {o.work_id for o in content[w.work_id]}
                 - {m.get("work_id") for m in found[w.work_id]})
        if fresh:
            again = identify_again(w) if identify_again is not None else _identify_source(registry, w)
            found[w.work_id] += [m for m in again if m["work_id"] in fresh]
    if not any(content.values()) and not any(found.values()):
        return []
    return find_ownership_conflicts(registry, named, matches=found, same_content=content, now=now, rules=rules)


def find_ownership_conflicts(registry, works: Sequence[Work], *, matches: Mapping[str, list] | None = None,
                             same_content: Mapping[str, list] | None = None, now: str | datetime | None = None,
                             rules: ClaimRules | None = None, min_share: float = OWNERSHIP_MIN_SHARE) -> list[Claim]:
    """One ownership claim per (new work, other creator's work) pair that conflict: the claims to open (not stored).

    A pair conflicts when both works have a named creator, the creators
    differ, and either the content is the same (same SHA-256) or a
    fingerprint match covers at least ``min_share`` of either work. The
    other creator's (earlier) work is party A, the claimant; the new work's
    creator is party B, the respondent. A pair that already has a claim (in
    any state) gets no second one.

    Parameters
    ----------
    registry : consentry.services.registry.Registry
    works : sequence of Work
        Works just registered.
    matches : mapping work_id -> list of match dicts, optional
        Fingerprint matches of each new work's file (``work_id``,
        ``query_start_s``, ``query_end_s``, ``work_start_s``,
        ``work_end_s``, ``score``, ``confidence``; seconds), as
        :meth:`Registry.register` finds them while fingerprinting. Without
        it each work's file is decoded and identified here.
    same_content : mapping work_id -> list of Work, optional
        Other creators' live works with the same SHA-256.
    now : ISO time, optional
    rules : ClaimRules, optional
    min_share : float
        Share (0..1) of either work a match must cover.
    """
    rules = rules or DEFAULT_RULES
    at = _now(now)
    store = registry.store
    opened: list[Claim] = []
    seen: set[tuple[str, str]] = set()
    for w in works:
        if w.creator is None or w.removed_at is not None:
            continue
        candidates: dict[str, dict] = {}
        for other in (same_content or {}).get(w.work_id, []):
            candidates[other.work_id] = {"match": "sha256", "sha256": w.sha256, "share_of_new": 1.0, "share_of_registered": 1.0}
        found = (matches or {}).get(w.work_id) if matches is not None else _identify_source(registry, w)
        by_work: dict[str, list] = {}
        for m in found or []:
            if m["work_id"] != w.work_id and m["work_id"] not in candidates:
                by_work.setdefault(m["work_id"], []).append(m)
        others = {}
        for wid, segs in by_work.items():
            try:
                other = store.get_work(wid)
            except InputError:
                continue
            others[wid] = other
            new_share, old_share = _shares(w, other, segs)
            if max(new_share, old_share) >= min_share:
                candidates[wid] = {
                    "match": "fingerprint", "share_of_new": round(new_share, 3), "share_of_registered": round(old_share, 3),
                    "min_share": min_share, "best_score": max(float(s["score"]) for s in segs),
                    # A text's extents are characters (``unit``), kept under the same keys; an image's are boxes.
                    "segments": [{**{k: s.get(k) for k in ("query_start_s", "query_end_s", "work_start_s", "work_end_s",
                                                          "speed", "pitch_shift_semitones", "confidence")},
                                  **({"unit": s["unit"]} if s.get("unit") else {}),
                                  **{k: s[k] for k in ("query_box", "work_box") if s.get(k)}} for s in segs[:20]],
                }
        for wid, basis in candidates.items():
            other = others.get(wid) or store.get_work(wid)
            if other.creator is None or other.creator == w.creator or other.removed_at is not None:
                continue
            pair = tuple(sorted((w.work_id, other.work_id)))
            if pair in seen:
                continue
            seen.add(pair)
            if any({c.work_a, c.work_b} == set(pair) for c in store.list_claims(work_ids=[w.work_id])):
                continue
            opened.append(open_claim(
                kind="ownership", party_a=other.creator, party_a_kind="creator", party_b=w.creator,
                work_a=other.work_id, work_b=w.work_id, basis=basis, at=at, rules=rules,
                note=(f"{w.creator} registered {w.title!r} ({w.work_id}), which "
                      + ("is the same file as" if basis["match"] == "sha256" else
                         f"matches {100 * max(basis['share_of_new'], basis['share_of_registered']):.0f}% of")
                      + f" {other.title!r} ({other.work_id}) registered by {other.creator}")))
    return opened


# -- reading -------------------------------------------------------------------------------
def list_claims(registry, *, actor: Actor | None = None, states: Iterable[str] | None = None,
                work_id: str | None = None, kind: str | None = None) -> list[Claim]:
    """Claims, oldest first: a party's own (``actor`` a creator or licensee), or all (an admin, or no actor).

    ``states`` filters (``open``, ``contested``, ``resolved_a``,
    ``resolved_b``, ``withdrawn``; also ``active`` for the first two);
    ``work_id`` (a prefix is enough) keeps the claims about that work.
    """
    wanted = None
    if states is not None:
        wanted = []
        for s in states:
            if s == "active":
                wanted += list(ACTIVE_STATES)
            elif s in STATES:
                wanted.append(s)
            else:
                raise FieldError("states", f"{{states}} {quote(s)}: choose from active, {', '.join(STATES)}")
    if kind is not None and kind not in ("ownership", "finding"):
        raise FieldError("kind", f"{{kind}} {quote(kind)}: choose ownership or finding")
    work_ids = [registry.work(work_id).work_id] if work_id is not None else None
    party = actor.name if actor is not None and actor.kind in ("creator", "licensee") else None
    claims = registry.store.list_claims(party=party, states=wanted, work_ids=work_ids, kind=kind)
    if party is not None:
        claims = [c for c in claims if c.role_of(actor) in ("a", "b")]
    return claims


def show_claim(registry, claim_id: str, *, actor: Actor | None = None) -> Claim:
    """One claim with its events; a creator or licensee who is not a party to it is refused."""
    claim = registry.store.get_claim(claim_id)
    if actor is not None and claim.role_of(actor) is None:
        raise NotAPartyError(f"claim {claim.claim_id}: {actor.describe()} is not a party to it")
    return claim


# -- acting ------------------------------------------------------------------------------------
def act(registry, claim_id: str, action: str, *, actor: Actor, note: str | None = None, now: str | datetime | None = None,
        rules: ClaimRules | None = None, evidence: Mapping | None = None, retire_losing_work: bool = True) -> Claim:
    """Apply one state-machine action (docs/claims.md) and store it with its event; returns the claim after it.

    When an ownership claim ends resolved for one party, the other party's
    work is removed from the registry (no longer matched; its record stays)
    unless ``retire_losing_work`` is False.
    """
    claim = registry.store.get_claim(claim_id)
    updated, event = apply(claim, action, actor=actor, at=_now(now), rules=rules or DEFAULT_RULES, note=note,
                           evidence=evidence)
    registry.store.record_claim_event(updated, event)
    if retire_losing_work and updated.kind == "ownership" and updated.winner is not None:
        loser = updated.work_b if updated.winner == "a" else updated.work_a
        try:
            registry.store.remove_work(loser)
        except InputError:
            pass
    return registry.store.get_claim(updated.claim_id)


def _audited(registry, by, action: str, claim: Claim, **details) -> Claim:
    """Write the audit record of a change to ``claim`` made by ``by`` (a
    :class:`consentry.services.works.ActedBy`; None: not recorded, e.g. a library call)."""
    if by is not None:
        from consentry.services.works import record_change

        record_change(registry, by, action, target_kind="claim", target_id=claim.claim_id,
                      details={"state": claim.state, **details})
    return claim


def answer_claim(registry, claim_id: str, *, actor: Actor, contest: bool, note: str | None = None,
                 now: str | datetime | None = None, rules: ClaimRules | None = None, by=None) -> Claim:
    """The respondent answers: ``contest=True`` (an admin decides; decision due in ``rules.decision_days``)
    or ``contest=False`` (concede: resolved for the claimant). Either party may concede at any time.

    ``by``: who acts, for the audit log (``claims.contest`` / ``claims.concede``); the same for every
    function below that changes a claim."""
    claim = act(registry, claim_id, "contest" if contest else "concede", actor=actor, note=note, now=now, rules=rules)
    return _audited(registry, by, "claims.contest" if contest else "claims.concede", claim)


def withdraw_claim(registry, claim_id: str, *, actor: Actor, note: str | None = None,
                   now: str | datetime | None = None, by=None) -> Claim:
    """The claimant (or an admin) withdraws the claim: no party wins, both works keep their own terms."""
    return _audited(registry, by, "claims.withdraw", act(registry, claim_id, "withdraw", actor=actor, note=note, now=now))


def resolve_claim(registry, claim_id: str, *, for_party: str, actor: Actor, note: str | None = None,
                  now: str | datetime | None = None, retire_losing_work: bool = True, by=None) -> Claim:
    """An admin decides the claim for party ``"a"`` (claimant) or ``"b"`` (respondent)."""
    if for_party not in ("a", "b"):
        raise FieldError("for_party", f"{{for_party}} {quote(for_party)}: give a (the claimant) or b (the respondent)")
    if actor.kind != "admin":
        raise NotAPartyError(f"claim {claim_id}: only an admin resolves a claim ({actor.describe()} is not one)")
    claim = act(registry, claim_id, f"resolve_{for_party}", actor=actor, note=note, now=now,
                retire_losing_work=retire_losing_work)
    return _audited(registry, by, f"claims.resolve_{for_party}", claim, keep_losing_work=not retire_losing_work)


def add_note(registry, claim_id: str, *, actor: Actor, note: str, now: str | datetime | None = None, by=None) -> Claim:
    """A party or an admin adds a note (the state does not change); an empty note is refused."""
    if not (note or "").strip():
        raise InputError("note: write something")
    return _audited(registry, by, "claims.note", act(registry, claim_id, "note", actor=actor, note=note, now=now))


def expire_overdue(registry, *, now: str | datetime | None = None, rules: ClaimRules | None = None,
                   by=None) -> list[Claim]:
    """Apply the deadline rules at ``now``; returns the claims changed.

    An open claim past its answer date is resolved for the claimant
    (``expire``); a contested claim past its decision date is recorded as
    overdue once (``overdue``; it stays contested, an admin must decide).
    Safe to run as often as wanted (a cron job, the server's timer).
    """
    at = _now(now)
    changed = []
    for claim in registry.store.list_claims(states=ACTIVE_STATES):
        action = due_action(claim, at)
        if action is None:
            continue
        try:
            changed.append(_audited(registry, by, "claims.deadline",
                                    act(registry, claim.claim_id, action, actor=SYSTEM, now=at, rules=rules)))
        except ClaimError:
            continue  # someone acted on it meanwhile
    return changed


# -- evidence --------------------------------------------------------------------------------
def _unsafe_member(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or "\x00" in name or ".." in parts
            or (len(name) > 1 and name[1] == ":"))


def _registry_key_fingerprint(registry) -> str | None:
    """Fingerprint of this registry's evidence key, when it has one (never makes a key)."""
    from consentry.services.evidence.keys import registry_key_fingerprint

    return registry_key_fingerprint(Path(registry.local_dir))


def submit_evidence(registry, claim_id: str, bundle: str | os.PathLike, *, actor: Actor, evidence_dir: str | os.PathLike,
                    note: str | None = None, now: str | datetime | None = None,
                    max_bytes: int = MAX_EVIDENCE_BYTES, name: str | None = None, by=None) -> Claim:
    """A party (or an admin) submits an evidence bundle (``consentry check --evidence``) to a claim.

    The file is copied into ``evidence_dir/<claim_id>/`` under a name made
    here (``<seq>-<sha256 prefix>.evidence.zip``; the given name is never
    used), verified there with :func:`consentry.services.evidence.verify_bundle`, and
    recorded in the event with its SHA-256, size, the verification outcome
    (``verified`` and the failures), the signing key's fingerprint, whether
    it is this registry's key (``signed_by_this_registry``) and this
    registry's key fingerprint. A bundle is ``verified`` only when it is
    intact *and* signed by this registry's key: a bundle re-signed with any
    other key fails, naming that key.

    ``name`` is the file's name as its sender knows it (the server passes
    the upload's file name; default the name of ``bundle``); it is recorded
    as metadata and used in the messages, never as a path.

    A bundle that is a readable evidence bundle but fails verification
    (tampered, signed by an unknown key) is *stored and marked failing*: the
    attempt is part of the record and an admin weighs it. A file that is
    not an evidence bundle at all (not a zip, empty, over ``max_bytes``, a
    zip with member paths pointing outside it, no readable facts.json) is
    refused and nothing is stored.
    """
    from consentry.services.evidence.verify import verify_bundle

    store = registry.store
    claim = store.get_claim(claim_id)
    when = _now(now)
    # Refuse an action the state machine refuses before copying anything.
    apply(claim, "evidence", actor=actor, at=when, evidence={"check": True})
    from consentry.services.uploads import sanitize_name

    src = Path(bundle)
    shown = sanitize_name(name) if name is not None else str(bundle)
    try:
        if not src.is_file():
            raise InputError(f"{shown}: no such file (give the .evidence.zip that `consentry check --evidence` wrote)")
        size = src.stat().st_size
    except OSError as exc:
        raise InputError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{shown}: empty file, not an evidence bundle")
    if size > max_bytes:
        raise InputError(f"{shown}: {size} bytes, over the {max_bytes}-byte limit of an evidence bundle")
    folder = Path(evidence_dir) / claim.claim_id
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming-{os.getpid()}-{hashlib.sha256(os.urandom(8)).hexdigest()[:8]}.zip"
    digest = hashlib.sha256()
    copied = 0
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while True:
                block = fin.read(1 << 20)
                if not block:
                    break
                copied += len(block)
                if copied > max_bytes:
                    raise InputError(f"{shown}: grew past the {max_bytes}-byte limit while being read")
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        try:
            with zipfile.ZipFile(tmp) as z:
                bad = [n for n in z.namelist() if _unsafe_member(n)]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise InputError(f"{shown}: not a zip file, so not an evidence bundle") from None
        if bad:
            raise InputError(f"{shown}: member {bad[0][:80]!r} points outside the bundle; refused, nothing stored")
        ours = _registry_key_fingerprint(registry)
        result = verify_bundle(tmp, registry_fingerprint=ours)
        if result.facts is None:
            why = result.failures[0].replace(str(tmp), shown) if result.failures else "no facts.json"
            raise InputError(f"{shown}: not an evidence bundle ({why[:200]})")
        sha = digest.hexdigest()
        seq = claim.events[-1].seq + 1 if claim.events else 1
        final = folder / f"{seq:04d}-{sha[:16]}.evidence.zip"
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    output = result.facts.get("output") if isinstance(result.facts.get("output"), dict) else {}
    record = {
        "file": str(final), "name": (sanitize_name(name) if name is not None else src.name)[:200], "sha256": sha,
        "bytes": copied, "verified": result.ok,
        "failures": [line.replace(str(tmp), final.name)[:300] for line in result.failures[:20]],
        "key_fingerprint": result.key_fingerprint, "output_sha256": output.get("sha256"),
        "checked_at": result.facts.get("checked_at"),
        "signed_by_this_registry": result.signer == "registry",
        "registry_key_fingerprint": ours,
    }
    try:
        claim = act(registry, claim.claim_id, "evidence", actor=actor, note=note, now=when, evidence=record)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return _audited(registry, by, "claims.evidence", claim)


# -- a licensee disputes a scan finding ---------------------------------------------------------
def dispute_finding(registry, scan_id: str, item_id: str, *, actor: Actor, reason: str, work_id: str | None = None,
                    now: str | datetime | None = None, rules: ClaimRules | None = None, by=None) -> list[Claim]:
    """A licensee disputes a scan finding: one ``finding`` claim per work found in the item (or ``work_id`` only).

    Party A is the licensee (``actor``), party B the creator of the work
    found. Returns the claims opened; a finding already under an active
    claim is refused.
    """
    if actor.kind != "licensee":
        raise NotAPartyError(f"only a licensee disputes a scan finding ({actor.describe()} is a {actor.kind})")
    reason = " ".join(str(reason or "").split())[:2000]
    if not reason:
        raise FieldError("reason", "{reason}: say why the finding is wrong")
    scan = registry.store.get_scan(scan_id)
    found = registry.store.scan_item_work_ids(scan["scan_id"], item_id)
    if found is None:
        raise InputError(f"scan {scan['scan_id']} has no item {item_id[:200]!r}; see `consentry scans show {scan['scan_id']}`")
    if work_id is not None:
        wid = registry.work(work_id).work_id
        if wid not in found:
            raise InputError(f"item {item_id[:200]!r} of scan {scan['scan_id']} has no finding of work {wid}")
        found = [wid]
    if not found:
        raise InputError(f"item {item_id[:200]!r} of scan {scan['scan_id']} has no findings to dispute")
    existing = registry.store.list_claims(scan_id=scan["scan_id"], kind="finding", states=ACTIVE_STATES)
    at = _now(now)
    claims = []
    for wid in found:
        if any(c.item_id == item_id and c.work_b == wid for c in existing):
            raise ClaimError(f"the finding of work {wid} in item {item_id[:200]!r} is already disputed; see `consentry claims list`")
        w = registry.store.get_work(wid)
        claims.append(open_claim(
            kind="finding", party_a=actor.name, party_a_kind="licensee", party_b=w.creator or "(unknown creator)",
            work_a=None, work_b=wid, basis={"match": "scan finding", "scan_id": scan["scan_id"], "item_id": item_id},
            at=at, rules=rules or DEFAULT_RULES, scan_id=scan["scan_id"], item_id=item_id, note=reason))
    registry.store.add_claims(claims)
    for c in claims:
        if by is not None:
            from consentry.services.works import record_change

            record_change(registry, by, "claims.dispute", target_kind="claim", target_id=c.claim_id,
                          details={"scan_id": scan["scan_id"], "item_id": item_id, "work_id": c.work_b})
    return claims


# -- disputed terms -----------------------------------------------------------------------------
def work_dispute(registry, work_id: str) -> dict | None:
    """How a work's terms are reported while disputed, or None when no active ownership claim names it.

    Returns the work's entry of the terms export's ``dispute`` (``claims``,
    ``parties`` with each party's terms, ``own_terms``, ``note``) plus
    ``terms`` (the strictest terms, reported while disputed).
    """
    w = registry.work(work_id)
    if not registry.store.list_claims(work_ids=[w.work_id], states=ACTIVE_STATES, kind="ownership"):
        return None
    export = registry.terms_export()
    entry = next((x for x in export["works"] if x["work_id"] == w.work_id), None)
    if entry is None or "dispute" not in entry:
        return None
    return {**entry["dispute"], "terms": entry["terms"]}


def evidence_copy(claim: Claim, seq: int) -> Path:
    """The stored copy of the evidence submitted in event ``seq`` of ``claim``."""
    for e in claim.events:
        if e.seq == seq and e.evidence:
            return Path(e.evidence["file"])
    raise InputError(f"claim {claim.claim_id} has no evidence in event {seq}")

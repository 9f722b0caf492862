"""Works and their terms: show (disputes applied), remove, set terms; every change written to the audit log.

The CLI (``works remove``, ``terms set``, ``terms show``), the API
(``/api/v1/works/...``) and the web app call these, so they give the same
answer and leave the same audit record; the adapter says who acts
(:class:`ActedBy`: a signed-in account, or ``cli:<user>`` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from consentry.domain.works import Work
from consentry.domain.usage import TermsVersion, UseTerms


@dataclass(frozen=True)
class ActedBy:
    """Who makes a change, as the audit log records it.

    ``principal``: the signed-in account (server); ``name``: the actor's
    name when there is no account, e.g. ``cli:<user>`` (default: the
    account's e-mail); ``ip``: where the request came from.
    """

    principal: Any = None
    name: str | None = None
    ip: str | None = None


def record_change(registry, by: ActedBy, action: str, *, target_kind: str | None = None,
                  target_id: str | None = None, details: dict | None = None) -> None:
    """Append the audit record of one change made by ``by``."""
    from consentry.services.accounts import audit

    audit(registry.store, principal=by.principal, actor=by.name, action=action, target_kind=target_kind,
          target_id=target_id, ip=by.ip, details=details)


@dataclass(frozen=True)
class WorkTerms:
    """The terms in force for every use of a work, and where each comes from.

    While an ownership claim on the work is active, ``terms`` are the
    strictest of the parties' (``source`` says ``disputed`` for every use) and
    ``dispute`` holds ``claims``, ``note`` and ``parties`` (docs/claims.md);
    ``own_terms`` / ``own_source`` are the work's own either way.
    """

    work: Work
    terms: TermsVersion
    source: dict[str, str]
    own_terms: TermsVersion
    own_source: dict[str, str]
    dispute: dict | None = field(default=None)

    @property
    def disputed(self) -> bool:
        return self.dispute is not None

    def as_dict(self) -> dict:
        """``work_id``, ``version``, ``uses``, validity, ``jurisdiction``, ``source``, ``disputed``
        (and, while disputed, ``claims``, ``note``, ``own_terms``, ``own_source``, ``parties``)."""
        out = {"work_id": self.work.work_id, "version": self.work.terms_version, **self.terms.as_dict(),
               "source": self.source, "disputed": self.disputed}
        if self.dispute is not None:
            out.update(claims=self.dispute["claims"], note=self.dispute["note"], own_terms=self.own_terms.as_dict(),
                       own_source=self.own_source, parties=self.dispute["parties"])
        return out


def work_terms(registry, work_id: str) -> WorkTerms:
    """The terms in force for every use of a work (an unambiguous id prefix), disputes applied."""
    from consentry.services.claims import work_dispute

    w = registry.work(work_id)
    own, own_source = registry.effective_terms(w.work_id)
    dispute = work_dispute(registry, w.work_id)
    if dispute is None:
        return WorkTerms(work=w, terms=own, source=own_source, own_terms=own, own_source=own_source)
    return WorkTerms(work=w, terms=TermsVersion.from_dict(dispute["terms"]), source={u: "disputed" for u in own_source},
                     own_terms=own, own_source=own_source,
                     dispute={k: dispute[k] for k in ("claims", "note", "parties")})


def terms_history(registry, work_id: str) -> list[dict]:
    """Every terms version of a work, oldest first: ``{version, recorded_at, uses, valid_from, ...}`` as set."""
    return [{"version": v, "recorded_at": at, **tv.as_dict()} for v, tv, at in registry.terms_history(work_id)]


def creator_terms(registry, creator: str) -> tuple[int, TermsVersion] | None:
    """A creator's default terms now (version, terms), or None when none were set."""
    return registry.store.creator_terms(creator)


def creator_terms_history(registry, creator: str) -> list:
    """Every version of a creator's default terms, oldest first: (version, terms, recorded_at)."""
    return registry.store.creator_terms_history(creator)


def works_of(registry, principal, *, include_removed: bool = False) -> list[Work]:
    """The works an account sees: a creator account the works it controls (registered through it, or all of its
    name once an admin bound it); everyone else every work. ``principal`` None: every work."""
    works = registry.works(include_removed=include_removed)
    if principal is None or principal.role != "creator":
        return works
    from consentry.services.accounts import controlled_work_ids

    mine = controlled_work_ids(registry.store, principal, works)
    return [w for w in works if w.work_id in mine]


def creator_names(registry) -> set[str]:
    """Every creator name a work was registered under (removed works too)."""
    return {w.creator for w in registry.works(include_removed=True) if w.creator}


def voices(registry, *, creator: str | None = None) -> list:
    """Enrolled voice prints, of one creator or all: one per enrolled sample.

    A sample's telephone-band print (a second row of ``voices`` under the
    model's engine id + ``BAND_SUFFIX``, docs/voice.md) is not listed as a
    voice of its own; :func:`band_printed` says which samples have one.
    """
    from consentry.engines.voice.band import BAND_SUFFIX

    return [v for v in registry.store.list_voices()
            if not v.engine.endswith(BAND_SUFFIX) and (creator is None or v.creator == creator)]


def band_printed(registry) -> set[tuple[str, str, str]]:
    """``(creator, model engine id, sample SHA-256)`` of every enrolled sample that has a telephone-band print."""
    from consentry.engines.voice.band import BAND_SUFFIX

    return {(v.creator, v.engine[:-len(BAND_SUFFIX)], v.source_sha256)
            for v in registry.store.list_voices() if v.engine.endswith(BAND_SUFFIX)}


def voice_rows(registry, *, creator: str | None = None) -> list[dict]:
    """:func:`voices` as dicts, each with ``band_print``: whether the sample also has a telephone-band print."""
    band = band_printed(registry)
    return [{**v.as_dict(), "band_print": (v.creator, v.engine, v.source_sha256) in band}
            for v in voices(registry, creator=creator)]


def _nothing_to_change(changes, valid_from, valid_until, jurisdiction) -> None:
    if not changes and valid_from is None and valid_until is None and jurisdiction is None:
        from consentry.domain.errors import InputError

        raise InputError("nothing to change: give uses, valid_from, valid_until or jurisdiction")


def remove_work(registry, work_id: str, *, by: ActedBy) -> Work:
    """Remove a work (it is no longer matched; its record stays, marked removed); audit ``works.remove``."""
    w = registry.work(work_id)
    removed = registry.remove(w.work_id)
    record_change(registry, by, "works.remove", target_kind="work", target_id=w.work_id,
                  details={"title": w.title, "creator": w.creator})
    return removed


def requested_changes(changes: Mapping[str, UseTerms], *, valid_from: str | None = None,
                      valid_until: str | None = None, jurisdiction: str | None = None) -> dict:
    """A terms change as the audit log records it (the fields given, as the API's ``TermsIn``)."""
    out: dict = {"uses": {u: t.as_dict() for u, t in changes.items()}}
    for k, v in (("valid_from", valid_from), ("valid_until", valid_until), ("jurisdiction", jurisdiction)):
        if v is not None:
            out[k] = v
    return out


def set_work_terms(registry, work_id: str, changes: Mapping[str, UseTerms], *, by: ActedBy,
                   valid_from: str | None = None, valid_until: str | None = None, jurisdiction: str | None = None,
                   requested: dict | None = None) -> WorkTerms:
    """Append a terms version of a work changing these uses (the rest kept); audit ``terms.set``.

    ``requested``: the change as the adapter received it, for the audit
    record (default: :func:`requested_changes`). Returns the terms now in force.
    """
    _nothing_to_change(changes, valid_from, valid_until, jurisdiction)
    w = registry.set_work_terms(registry.work(work_id).work_id, dict(changes), valid_from=valid_from,
                                valid_until=valid_until, jurisdiction=jurisdiction)
    shown = work_terms(registry, w.work_id)
    record_change(registry, by, "terms.set", target_kind="work", target_id=w.work_id, details={
        "version": w.terms_version,
        "changes": requested if requested is not None else requested_changes(
            changes, valid_from=valid_from, valid_until=valid_until, jurisdiction=jurisdiction)})
    return shown


def set_creator_terms(registry, creator: str, changes: Mapping[str, UseTerms], *, by: ActedBy,
                      valid_from: str | None = None, valid_until: str | None = None, jurisdiction: str | None = None,
                      requested: dict | None = None) -> tuple[int, TermsVersion]:
    """Append a version of a creator's default terms; audit ``creator_terms.set``. Returns (version, terms)."""
    _nothing_to_change(changes, valid_from, valid_until, jurisdiction)
    version, tv = registry.set_creator_terms(creator, dict(changes), valid_from=valid_from, valid_until=valid_until,
                                             jurisdiction=jurisdiction)
    record_change(registry, by, "creator_terms.set", target_kind="creator", target_id=creator, details={
        "version": version,
        "changes": requested if requested is not None else requested_changes(
            changes, valid_from=valid_from, valid_until=valid_until, jurisdiction=jurisdiction)})
    return version, tv

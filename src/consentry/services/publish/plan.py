"""Read and check the terms export, and say what will be published for each work (pure).

The export is the dict of docs/terms-model.md ("The export"). Every value
published comes from it; nothing else is consulted, not even the clock: a
work's validity is judged on ``today`` (by default the day the export was
generated), so the same export always publishes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from consentry.domain.errors import InputError
from consentry.domain.usage import USES, UseTerms
from consentry.services.publish.text import check_id, clean_text, normalize_base_url


@dataclass(frozen=True)
class WorkPlan:
    """One work as it will be published. Text fields are already :func:`clean_text`-ed."""

    work_id: str
    title: str
    creator_name: str
    creator_id: str | None
    uses: dict[str, dict]  # use -> terms dict (validated, as docs/terms-model.md)
    sources: dict[str, str]  # use -> "work" | "creator" | "default" | "unknown"
    terms_version: Any
    terms_recorded_at: str
    registered_at: str
    sha256: str
    duration_s: float | None
    valid_from: str | None
    valid_until: str | None
    jurisdiction: str
    in_force: bool | None
    #: Set while an ownership claim is open or contested (docs/claims.md): ``uses`` are
    #: then the strictest terms of the parties; ``{"claims": [ids], "note": str,
    #: "parties": [{"work_id", "creator"}]}``.
    dispute: dict | None = None

    @property
    def media_path(self) -> str:
        """Where the creator serves the work's media: ``/works/<id>/``."""
        return f"/works/{self.work_id}/"

    @property
    def pattern(self) -> str:
        """The path pattern every per-work rule uses: ``/works/<id>/*``."""
        return f"/works/{self.work_id}/*"


@dataclass(frozen=True)
class CreatorPlan:
    """One creator as published."""

    creator_id: str
    name: str
    default_terms: dict | None
    default_terms_version: Any
    works: tuple[str, ...]


@dataclass(frozen=True)
class SitePlan:
    """Everything :func:`consentry.services.publish.build_site` renders."""

    base_url: str
    today: dt.date | None
    generated_at: str
    tool: dict
    works: tuple[WorkPlan, ...]
    creators: tuple[CreatorPlan, ...]
    by_id: dict[str, WorkPlan] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """Absolute URL of a site path (``path`` starts with ``/``)."""
        return self.base_url + path


def _date(value: Any, *, what: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise InputError(f"{what} {clean_text(repr(value), max_chars=60)}: not an ISO date (YYYY-MM-DD)") from None


def _today_from(generated_at: Any) -> dt.date | None:
    if not generated_at:
        return None
    try:
        return dt.datetime.fromisoformat(str(generated_at)).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(str(generated_at)[:10])
        except ValueError:
            return None


def _use_terms(raw: Any, *, where: str) -> dict:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: the terms must be an object with a decision; export the registry again")
    try:
        return UseTerms.from_dict(raw).as_dict()
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: unreadable terms ({exc}); export the registry again") from None


def _terms_version(raw: Any, *, where: str, complete: bool) -> dict:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("uses"), Mapping):
        raise InputError(f"{where}: no terms with uses; export the registry again")
    uses = {}
    for use, t in raw["uses"].items():
        if use not in USES:
            raise InputError(f"{where}: unknown use {clean_text(repr(use), max_chars=40)}; uses are {', '.join(USES)}")
        uses[use] = _use_terms(t, where=f"{where}, use {use}")
    if complete:
        missing = [u for u in USES if u not in uses]
        if missing:
            raise InputError(f"{where}: the export leaves {', '.join(missing)} unresolved; export the registry again")
    return {
        "uses": {u: uses[u] for u in USES if u in uses},
        "valid_from": _date(raw.get("valid_from"), what=f"{where}: valid_from"),
        "valid_until": _date(raw.get("valid_until"), what=f"{where}: valid_until"),
        "jurisdiction": clean_text(raw.get("jurisdiction"), max_chars=64) or None,
    }


def in_force(valid_from: str | None, valid_until: str | None, today: dt.date | None) -> bool | None:
    """Whether terms valid from/until these ISO dates are in force on ``today`` (``None``: unknown)."""
    if today is None:
        return None
    day = today.isoformat()
    return (valid_from is None or valid_from <= day) and (valid_until is None or day <= valid_until)


def build_plan(export: Mapping, *, base_url: str, today: dt.date | None = None) -> SitePlan:
    """Check ``export`` and ``base_url`` and return the plan, or :class:`InputError` (one line)."""
    base = normalize_base_url(base_url)
    if not isinstance(export, Mapping):
        raise InputError("terms export: not an object; pass the dict of Registry.terms_export()")
    raw_works = export.get("works")
    raw_creators = export.get("creators", [])
    if not isinstance(raw_works, list) or not isinstance(raw_creators, list):
        raise InputError("terms export: 'works' and 'creators' must be lists; pass the dict of Registry.terms_export()")
    generated_at = clean_text(export.get("generated_at"), max_chars=64)
    if today is None:
        today = _today_from(export.get("generated_at"))
    tool_raw = export.get("tool") if isinstance(export.get("tool"), Mapping) else {}
    tool = {"name": clean_text(tool_raw.get("name") or "consentry", max_chars=64),
            "version": clean_text(tool_raw.get("version") or "", max_chars=32)}

    works: list[WorkPlan] = []
    seen: set[str] = set()
    for i, w in enumerate(raw_works):
        if not isinstance(w, Mapping):
            raise InputError(f"terms export: works[{i}] is not an object; export the registry again")
        wid = check_id(w.get("work_id"), what=f"works[{i}].work_id")
        if wid in seen:
            raise InputError(f"terms export: work {wid} appears twice; export the registry again")
        seen.add(wid)
        terms = _terms_version(w.get("terms"), where=f"work {wid}", complete=True)
        cid = w.get("creator_id")
        cid = check_id(cid, what=f"work {wid}: creator_id") if cid not in (None, "") else None
        raw_sources = w.get("terms_source") if isinstance(w.get("terms_source"), Mapping) else {}
        sources = {u: (raw_sources.get(u) if raw_sources.get(u) in ("work", "creator", "default", "disputed")
                       else "unknown") for u in USES}
        duration = w.get("duration_s")
        works.append(WorkPlan(
            work_id=wid,
            title=clean_text(w.get("title")) or "(untitled)",
            creator_name=clean_text(w.get("creator")) or "(unknown creator)",
            creator_id=cid,
            uses=terms["uses"],
            sources=sources,
            terms_version=w.get("terms_version") if isinstance(w.get("terms_version"), int) else None,
            terms_recorded_at=clean_text(w.get("terms_recorded_at"), max_chars=64),
            registered_at=clean_text(w.get("registered_at"), max_chars=64),
            sha256=clean_text(w.get("sha256"), max_chars=128),
            duration_s=float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
            valid_from=terms["valid_from"],
            valid_until=terms["valid_until"],
            jurisdiction=terms["jurisdiction"] or "",
            in_force=in_force(terms["valid_from"], terms["valid_until"], today),
            dispute=_dispute(w.get("dispute"), where=f"work {wid}"),
        ))

    creators: list[CreatorPlan] = []
    seen_c: set[str] = set()
    for i, c in enumerate(raw_creators):
        if not isinstance(c, Mapping):
            raise InputError(f"terms export: creators[{i}] is not an object; export the registry again")
        cid = check_id(c.get("creator_id"), what=f"creators[{i}].creator_id")
        if cid in seen_c:
            raise InputError(f"terms export: creator {cid} appears twice; export the registry again")
        seen_c.add(cid)
        default = None
        if c.get("default_terms") is not None:
            default = _terms_version(c["default_terms"], where=f"creator {cid}: default terms", complete=False)
        work_ids = tuple(x for x in (c.get("works") or []) if isinstance(x, str) and x in seen)
        # Works that name this creator but are not listed by it still belong on its page.
        for wp in works:
            if wp.creator_id == cid and wp.work_id not in work_ids:
                work_ids += (wp.work_id,)
        creators.append(CreatorPlan(
            creator_id=cid,
            name=clean_text(c.get("name")) or "(unnamed creator)",
            default_terms=default,
            default_terms_version=c.get("default_terms_version") if isinstance(c.get("default_terms_version"), int) else None,
            works=work_ids,
        ))
    # A work whose creator has no entry of its own does not link to a creator page.
    works = [w if w.creator_id is None or w.creator_id in seen_c else _without_creator_page(w) for w in works]
    plan = SitePlan(base_url=base, today=today, generated_at=generated_at, tool=tool,
                    works=tuple(works), creators=tuple(creators))
    plan.by_id.update({w.work_id: w for w in works})
    return plan


def _dispute(raw: Any, *, where: str) -> dict | None:
    """The published part of a work's dispute (docs/claims.md): claim ids, a note, the parties."""
    if not isinstance(raw, Mapping) or not raw.get("disputed"):
        return None
    claims = [check_id(c, what=f"{where}: claim id") for c in (raw.get("claims") or []) if c is not None]
    parties = []
    for p in raw.get("parties") or []:
        if isinstance(p, Mapping):
            parties.append({"work_id": check_id(p.get("work_id"), what=f"{where}: party work_id"),
                            "creator": clean_text(p.get("creator")) or "(unknown creator)"})
    return {"claims": claims, "note": clean_text(raw.get("note"), max_chars=600) or "These terms are disputed.",
            "parties": parties}


def _without_creator_page(w: WorkPlan) -> WorkPlan:
    from dataclasses import replace

    return replace(w, creator_id=None)

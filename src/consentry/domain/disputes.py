"""Terms of disputed works (pure; docs/claims.md "How terms are reported while disputed").

While an ownership claim is open or contested, neither party's terms win:
each disputed work is reported with the *strictest* terms of all the works
in its dispute (the works linked to it by active claims, directly or
through another disputed work), use by use:

- the decision is the most restrictive one (``deny`` > ``license`` > ``allow``);
- when that is ``license`` and several parties license, the highest price
  wins among licences in the same currency and unit; licences in different
  currencies or units cannot be compared, so the earliest-registered
  party's licence is kept (the note says the price is disputed);
- contact and licence URL come with the terms chosen;
- validity and jurisdiction: the latest ``valid_from`` and the earliest
  ``valid_until`` of the parties (the period every party agrees to), the
  jurisdiction of the earliest-registered party.

Nothing is stored: this is how the terms are *reported* (terms export,
publish, scan snapshots, ``terms show``); each party's own terms stay in the
registry unchanged and come back when the claim ends.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from consentry.domain.terms import STRICTNESS as TERMS_STRICTNESS
from consentry.domain.usage import USES

#: Rank of each decision, least to most restrictive (:data:`consentry.domain.terms.STRICTNESS`).
STRICTNESS = {decision: rank for rank, decision in enumerate(TERMS_STRICTNESS)}


def dispute_groups(claims: Iterable) -> dict[str, dict]:
    """``work_id -> {"works": [...], "claims": [...]}`` for every work in an active ownership claim.

    Works linked by claims (A-B and B-C) form one group: all share the
    group's strictest terms.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = []
    for c in claims:
        if c.kind != "ownership" or not c.active or not c.work_a:
            continue
        links.append(c)
        ra, rb = find(c.work_a), find(c.work_b)
        if ra != rb:
            parent[ra] = rb
    groups: dict[str, dict] = {}
    for c in links:
        g = groups.setdefault(find(c.work_a), {"works": [], "claims": []})
        for w in (c.work_a, c.work_b):
            if w not in g["works"]:
                g["works"].append(w)
        g["claims"].append(c.claim_id)
    return {w: g for g in groups.values() for w in g["works"]}


def strictest_use(terms: Sequence[Mapping]) -> tuple[dict, bool]:
    """The strictest of several parties' terms for one use (dicts of docs/terms-model.md), oldest party first.

    Returns ``(terms, price_disputed)``: ``price_disputed`` is True when
    licences in different currencies or units could not be compared.
    """
    worst = max(STRICTNESS[t["decision"]] for t in terms)
    candidates = [t for t in terms if STRICTNESS[t["decision"]] == worst]
    chosen = candidates[0]
    incomparable = False
    if chosen["decision"] == "license":
        for t in candidates[1:]:
            if (t.get("currency"), t.get("unit")) == (chosen.get("currency"), chosen.get("unit")):
                if float(t["price"]) > float(chosen["price"]):
                    chosen = t
            else:
                incomparable = True
    return dict(chosen), incomparable


def strictest_terms(versions: Sequence[Mapping]) -> tuple[dict, list[str]]:
    """The strictest terms version of several (each with all five uses), oldest party first.

    Returns ``(version dict, uses whose licence price is disputed)``.
    """
    uses, price_disputed = {}, []
    for use in USES:
        uses[use], incomparable = strictest_use([v["uses"][use] for v in versions])
        if incomparable:
            price_disputed.append(use)
    starts = [v.get("valid_from") for v in versions if v.get("valid_from")]
    ends = [v.get("valid_until") for v in versions if v.get("valid_until")]
    return {"uses": uses, "valid_from": max(starts) if starts else None, "valid_until": min(ends) if ends else None,
            "jurisdiction": next((v.get("jurisdiction") for v in versions if v.get("jurisdiction")), None)}, price_disputed


def apply_disputes(export: dict, claims: Iterable) -> dict:
    """Report disputed works of a terms export (docs/terms-model.md) with the strictest terms of their dispute.

    Each disputed work's entry gets ``terms`` = the strictest terms,
    ``terms_source`` = ``"disputed"`` for every use, and ``dispute`` =
    ``{"disputed": true, "claims": [...], "note": "...", "own_terms": ...,
    "parties": [{"work_id", "creator", "terms"}, ...]}``. Works not in
    the export (removed ones) do not take part. Returns ``export`` (changed
    in place).
    """
    groups = dispute_groups(claims)
    if not groups:
        return export
    by_id = {w["work_id"]: w for w in export["works"]}
    own = {wid: w["terms"] for wid, w in by_id.items()}
    for w in export["works"]:
        g = groups.get(w["work_id"])
        if g is None:
            continue
        members = sorted((by_id[x] for x in g["works"] if x in by_id), key=lambda x: (x.get("registered_at") or "", x["work_id"]))
        if len(members) < 2:
            continue
        merged, price_disputed = strictest_terms([own[m["work_id"]] for m in members])
        parties = [{"work_id": m["work_id"], "creator": m["creator"], "terms": own[m["work_id"]]} for m in members]
        names = ", ".join(str(m["creator"]) for m in members)
        note = (f"Disputed: {names} each registered this work; until the dispute is decided the strictest of their "
                f"terms apply.")
        if price_disputed:
            note += f" The licence price of {', '.join(price_disputed)} is disputed too (different currencies or units)."
        w["dispute"] = {"disputed": True, "claims": list(g["claims"]), "note": note, "own_terms": own[w["work_id"]],
                        "own_terms_source": w.get("terms_source"), "parties": parties,
                        "price_disputed": price_disputed}
        w["terms"] = merged
        w["terms_source"] = {u: "disputed" for u in USES}
    return export

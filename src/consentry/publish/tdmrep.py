"""W3C TDMRep: /.well-known/tdmrep.json and TDM Policies (ODRL 2.2, TDMRep profile) (pure).

Spec: TDM Reservation Protocol (TDMRep), W3C Community Group Final Report
(w3c/tdm-reservation-protocol, spec/index.html, "CG-FINAL"). One rule per
work, ``location`` ``/works/<id>/*``; ``tdm-reservation`` 1 unless ``tdm`` is
allowed; ``tdm-policy`` for licensed works only, pointing to
``/tdm/policies/<id>.json``.

The policy is an ODRL ``Offer`` with the TDMRep profile: permission
``tdm:mine`` on the work's media URL, with a ``compensate`` duty refined by
``payAmount`` (ODRL 2.2 core vocabulary) = the price as an ``xsd:decimal``
and ``unit`` = ``urn:iso:std:iso:4217:<CODE>`` (ODRL wants an IRI for the
currency; there is no registered one per ISO 4217 code, so we chose this URN
form). The assigner carries the creator's name, the contact
(``vcard:hasEmail`` for mailto:, ``vcard:hasURL`` for https) and the licence
URL (``vcard:hasURL``, which TDMRep defines as the page about TDM licence
acquisition).
"""

from __future__ import annotations

from .mapping import tdm_licensed, tdm_reservation
from .plan import SitePlan, WorkPlan
from .text import format_decimal

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
TDM_NS = "http://www.w3.org/ns/tdmrep#"
TDM_PROFILE = "http://www.w3.org/ns/tdmrep"
CURRENCY_URN = "urn:iso:std:iso:4217:"

UNIT_WORDS = {"per-work": "per work", "per-item": "per item", "per-minute": "per minute",
              "per-training-run": "per training run"}


def policy_path(work_id: str) -> str:
    return f"/tdm/policies/{work_id}.json"


def tdmrep_rules(plan: SitePlan) -> list[dict]:
    """The content of /.well-known/tdmrep.json: one rule per work."""
    rules = []
    for w in plan.works:
        rule: dict = {"location": w.pattern, "tdm-reservation": tdm_reservation(w.uses)}
        if tdm_licensed(w.uses):
            rule["tdm-policy"] = plan.url(policy_path(w.work_id))
        rules.append(rule)
    return rules


def tdm_policy(plan: SitePlan, w: WorkPlan) -> dict:
    """The TDM Policy of a work whose ``tdm`` use is licensed."""
    t = w.uses["tdm"]
    assigner: dict = {
        "uid": plan.url(f"/terms/creators/{w.creator_id}.html") if w.creator_id else plan.url(f"/terms/works/{w.work_id}.html"),
        "vcard:fn": w.creator_name,
    }
    contact, licence = t.get("contact"), t.get("licence_url")
    if contact and contact.startswith("mailto:"):
        assigner["vcard:hasEmail"] = contact
    urls = [u for u in (licence, contact if contact and not contact.startswith("mailto:") else None) if u]
    urls = urls or [plan.url(f"/terms/works/{w.work_id}.html")]
    assigner["vcard:hasURL"] = urls[0] if len(urls) == 1 else urls
    unit_words = UNIT_WORDS.get(t.get("unit") or "per-work", t.get("unit"))
    policy = {
        "@context": [ODRL_CONTEXT, {"tdm": TDM_NS}],
        "@type": "Offer",
        "profile": TDM_PROFILE,
        "uid": plan.url(policy_path(w.work_id)),
        "assigner": assigner,
        "permission": [{
            "target": plan.url(w.media_path),
            "action": "tdm:mine",
            "duty": [{
                "action": [{
                    "rdf:value": {"@id": "odrl:compensate"},
                    "refinement": [{
                        "leftOperand": "payAmount",
                        "operator": "eq",
                        "rightOperand": {"@value": format_decimal(t["price"]), "@type": "xsd:decimal"},
                        "unit": CURRENCY_URN + t["currency"],
                    }],
                }],
            }],
        }],
        "dct:title": f"Text and data mining of {w.title} by {w.creator_name}",
        "dct:description": (f"TDM needs a licence: {format_decimal(t['price'])} {t['currency']} {unit_words}. "
                            f"Terms: {plan.url(f'/terms/works/{w.work_id}.html')}"),
    }
    if w.jurisdiction:
        policy["dct:coverage"] = w.jurisdiction
    if w.valid_from or w.valid_until:
        policy["dct:valid"] = f"{w.valid_from or '..'}/{w.valid_until or '..'}"
    return policy


def rule_matcher(rules: list):
    """A function giving, for a path, the first rule whose ``location`` matches it (TDMRep: the first wins).

    The rules are indexed once, so checking every work of a large site is not
    quadratic in the number of works.
    """
    from .robots import _PatternIndex

    usable = [(rule["location"], i, 0) for i, rule in enumerate(rules)
              if isinstance(rule, dict) and isinstance(rule.get("location"), str)]
    index = _PatternIndex(usable)

    def first(path: str) -> dict | None:
        hits = index.matches(path)
        return rules[min(i for _, i, _ in hits)] if hits else None
    return first


def match_rule(rules: list, path: str) -> dict | None:
    """The first rule whose ``location`` matches ``path`` (TDMRep: the first in sequence wins)."""
    return rule_matcher(rules)(path)

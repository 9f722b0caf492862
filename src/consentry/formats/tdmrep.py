"""W3C TDMRep (TDM Reservation Protocol, Final Community Group Report 2024-05-10), written and read (pure).

Reading:

- ``/.well-known/tdmrep.json``: an array of rules ``{"location", "tdm-reservation", "tdm-policy"}``;
  the first rule (in order) whose ``location`` matches the path applies
  ("the most specific match is the first in sequence"); patterns follow the
  robots.txt rules (``*``, final ``$``);
- the ``tdm-reservation`` / ``tdm-policy`` HTTP response headers;
- ``<meta name="tdm-reservation">`` / ``<meta name="tdm-policy">`` in HTML.

``tdm-reservation: 1`` reserves TDM: ``deny``, or ``license`` when the TDM
policy (ODRL) has a duty (``compensate``, ``obtainConsent``) or a price.
``0``: not reserved, ``allow``.  Any other value is a protocol error, read
as unset (and reported).  A reservation of TDM also covers AI training
(EU 2019/790 Art. 4; AI Act Art. 53(1)(c)), so ``1`` gives the same
decision for ``ai_training`` and ``ai_generative`` (``detail["implied_by"]
== "tdm"``); ``0`` says nothing about them.

Writing (a published site): Spec: TDM Reservation Protocol (TDMRep), W3C Community Group Final Report
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

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from typing import TYPE_CHECKING, Callable

from consentry.domain.signals import Signal
from consentry.formats.mapping import tdm_licensed, tdm_reservation
from consentry.formats.patterns import PatternIndex, normalize_path, normalize_pattern
from consentry.formats.text import format_decimal

if TYPE_CHECKING:
    from consentry.services.publish.plan import SitePlan, WorkPlan

__all__ = ["TdmRule", "TdmPolicy", "parse_tdmrep_json", "match_tdmrep", "tdmrep_matcher", "reservation_value",
           "parse_tdm_policy", "tdm_signals", "work_paths", "policy_path", "tdmrep_rules", "tdm_policy"]

#: Most rules read from one tdmrep.json.
MAX_RULES = 100_000
_CURRENCY_NAMES = {"euro": "EUR", "united_states_dollar": "USD", "us_dollar": "USD", "pound_sterling": "GBP",
                   "japanese_yen": "JPY", "swiss_franc": "CHF", "canadian_dollar": "CAD",
                   "australian_dollar": "AUD", "swedish_krona": "SEK", "norwegian_krone": "NOK",
                   "danish_krone": "DKK"}


@dataclass(frozen=True)
class TdmRule:
    """One rule of tdmrep.json: its index, location (as written and normalised), reservation (0, 1 or None) and policy."""

    index: int
    location: str
    pattern: str
    reservation: int | None
    policy: str | None


@dataclass(frozen=True)
class TdmPolicy:
    """What a TDM policy (ODRL) says: whether it asks for a licence, and the price if it names one."""

    url: str
    needs_licence: bool
    duties: tuple[str, ...] = ()
    price: float | None = None
    currency: str | None = None
    contact: str | None = None


def reservation_value(value) -> int | None:
    """0 or 1 from a JSON value or header/meta text; ``None`` for anything else (a protocol error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


def parse_tdmrep_json(data: bytes | str) -> tuple[list[TdmRule], list[str]]:
    """Rules of a tdmrep.json and what was wrong with it (never raises)."""
    problems: list[str] = []
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return [], [f"not JSON ({str(exc)[:120]})" if not isinstance(exc, RecursionError) else "not JSON (nested too deeply)"]
    if isinstance(parsed, dict):
        parsed = [parsed]
        problems.append("not an array of rules (a single object was read as one rule)")
    if not isinstance(parsed, list):
        return [], [f"not an array of rules but a JSON {type(parsed).__name__}"]
    rules: list[TdmRule] = []
    bad = 0
    for index, entry in enumerate(parsed[:MAX_RULES]):
        if not isinstance(entry, dict) or not isinstance(entry.get("location"), str):
            bad += 1
            continue
        location = entry["location"]
        if location.startswith(("http://", "https://")):
            try:
                location = urlsplit(location).path or "/"
            except ValueError:
                bad += 1
                continue
        reservation = reservation_value(entry.get("tdm-reservation"))
        if reservation is None:
            problems.append(f"rule {index + 1} ({location[:80]}): tdm-reservation "
                            f"{json.dumps(entry.get('tdm-reservation'))[:40]} is not 0 or 1 (read as unset)")
        policy = entry.get("tdm-policy")
        rules.append(TdmRule(index, location[:2000], normalize_pattern(location),
                             reservation, policy[:2000] if isinstance(policy, str) and policy.strip() else None))
    if len(parsed) > MAX_RULES:
        problems.append(f"only the first {MAX_RULES} rules were read")
    if bad:
        problems.append(f"{bad} entr{'y' if bad == 1 else 'ies'} without a string 'location' ignored")
    return rules, problems


def match_tdmrep(rules: list[TdmRule], path: str) -> TdmRule | None:
    """The rule that applies to ``path``: the first whose location matches."""
    return tdmrep_matcher(rules)(path)


def tdmrep_matcher(rules: list[TdmRule]) -> Callable[[str], TdmRule | None]:
    """:func:`match_tdmrep` for many paths: the locations are indexed once (a site has a rule per work)."""
    index = PatternIndex([rule.pattern for rule in rules])

    def first(path: str) -> TdmRule | None:
        hits = index.matches(normalize_path(path))
        return rules[hits[0]] if hits else None
    return first


def work_paths(rules: list[TdmRule]) -> list[str]:
    """Work paths (``/works/<id>/``) named by the rules, in order, without repeats."""
    out: list[str] = []
    for rule in rules:
        loc = rule.location.rstrip("$")
        if loc.startswith("/works/"):
            parts = loc.split("/")
            if len(parts) >= 3 and parts[2] and "*" not in parts[2]:
                path = f"/works/{parts[2]}/"
                if path not in out:
                    out.append(path)
    return out


def parse_tdm_policy(data: bytes | str, *, url: str) -> tuple[TdmPolicy | None, str | None]:
    """Read an ODRL TDM policy: duties, price (``payAmount`` or ``price``/``amount``) and contact."""
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return None, "not JSON: a machine-readable TDM policy is JSON-LD (ODRL)"
    if not isinstance(parsed, dict):
        return None, f"not a JSON object but a JSON {type(parsed).__name__}"
    duties: list[str] = []
    prices: list[tuple[float, str | None]] = []
    contact: list[str] = []
    budget = [20_000]

    def walk(node, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > 40:
            return
        if isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
            return
        if not isinstance(node, dict):
            return
        for key in ("duty", "obligation"):
            value = node.get(key)
            for duty in value if isinstance(value, list) else [value]:
                action = duty.get("action") if isinstance(duty, dict) else duty
                if isinstance(action, dict):
                    action = action.get("@id") or action.get("rdf:value")
                if isinstance(action, str):
                    duties.append(action.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        left = node.get("leftOperand")
        if isinstance(left, str) and left.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == "payAmount":
            amount = _number(node.get("rightOperand"))
            if amount is not None:
                prices.append((amount, _currency(node.get("unit"))))
        for key in ("price", "amount", "payAmount"):
            amount = _number(node.get(key))
            if amount is not None:
                prices.append((amount, _currency(node.get("currency") or node.get("unit"))))
        for key in ("vcard:hasEmail", "hasEmail", "vcard:hasURL", "hasURL"):
            if isinstance(node.get(key), str):
                contact.append(node[key])
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                walk(value, depth + 1)

    walk(parsed, 0)
    price, currency = min(prices, key=lambda p: p[0]) if prices else (None, None)
    needs = bool(prices) or any(d in ("compensate", "obtainConsent") for d in duties)
    return TdmPolicy(url=url, needs_licence=needs, duties=tuple(dict.fromkeys(duties)), price=price,
                     currency=currency, contact=contact[0] if contact else None), None


def _number(value) -> float | None:
    if isinstance(value, dict):
        value = value.get("@value", value.get("value"))
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value and abs(value) != float("inf") and value >= 0 else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") and number >= 0 else None
    return None


def _currency(unit) -> str | None:
    if isinstance(unit, dict):
        unit = unit.get("@id") or unit.get("@value")
    if not isinstance(unit, str) or not unit.strip():
        return None
    tail = unit.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if len(tail) == 3 and tail.isalpha():
        return tail.upper()
    return _CURRENCY_NAMES.get(tail.lower())


def tdm_signals(reservation: int, *, policy_url: str | None, policy: TdmPolicy | None, fmt: str,
                source: str, location: str, detail: dict | None = None) -> list[Signal]:
    """Signals of one TDMRep declaration (file rule, header pair or meta pair)."""
    base = dict(detail or {})
    base["tdm-reservation"] = reservation
    if policy_url:
        base["policy"] = policy_url
    if reservation == 0:
        return [Signal("tdm", "allow", fmt, source, location, base)]
    decision = "deny"
    if policy is not None and policy.needs_licence:
        decision = "license"
        base["duties"] = list(policy.duties)
        if policy.price is not None:
            base["price"] = policy.price
        if policy.currency:
            base["currency"] = policy.currency
        if policy.contact:
            base["contact"] = policy.contact
    out = [Signal("tdm", decision, fmt, source, location, base)]
    for use in ("ai_training", "ai_generative"):
        out.append(Signal(use, decision, fmt, source, location, dict(base, implied_by="tdm")))
    return out


# ---------------------------------------------------------------- writing

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
TDM_NS = "http://www.w3.org/ns/tdmrep#"
TDM_PROFILE = "http://www.w3.org/ns/tdmrep"
CURRENCY_URN = "urn:iso:std:iso:4217:"

UNIT_WORDS = {"per-work": "per work", "per-item": "per item", "per-minute": "per minute",
              "per-training-run": "per training run", "per-article": "per article",
              "per-1000-words": "per 1,000 words"}


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

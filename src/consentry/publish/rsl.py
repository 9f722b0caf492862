"""RSL 1.0 (Really Simple Licensing) licence document ``/rsl.xml`` (pure).

Spec: "Really Simple Licensing (RSL) 1.0 Specification", RSL-SPEC-1.0,
Recommendation of 2025-11-06, namespace ``https://rslstandard.org/rsl``.

One ``<content url="<base>/works/<id>/">`` per work with

- a free licence (``<payment type="free"/>``) permitting the usage tokens
  whose uses are all allowed;
- one paid licence per distinct price permitting the tokens that need a
  licence, with ``<payment type>`` from the unit (per-work ``purchase``,
  per-training-run ``training``, per-item and per-minute ``use``),
  ``<amount currency>`` and ``<standard>`` = the licence URL when there is one;
- ``<prohibits type="usage">`` in every licence for the tokens that are denied
  (a licence with nothing permitted still carries the prohibitions);
- ``<copyright>`` (the creator, with a contact) and ``<terms>`` (the terms page).

Tokens and uses: see :mod:`consentry.publish.mapping`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..formats.mapping import RSL_PAYMENT_TYPE, RSL_TOKENS, rsl_terms
from .plan import SitePlan
from .text import format_decimal

RSL_NS = "https://rslstandard.org/rsl"
_Q = "{" + RSL_NS + "}"


def render_rsl(plan: SitePlan) -> bytes:
    """The RSL XML document (UTF-8, with XML declaration)."""
    ET.register_namespace("", RSL_NS)
    root = ET.Element(_Q + "rsl")
    for w in plan.works:
        content = ET.SubElement(root, _Q + "content", {"url": plan.url(w.media_path)})
        derived = rsl_terms(w.uses)
        allowed = [tok for tok, _ in RSL_TOKENS if derived[tok].decision == "allow"]
        denied = [tok for tok, _ in RSL_TOKENS if derived[tok].decision == "deny"]
        paid: dict[tuple, list[str]] = {}
        for tok, _ in RSL_TOKENS:
            d = derived[tok]
            if d.decision == "license":
                t = d.terms
                key = (format_decimal(t["price"]), t["currency"], t.get("unit") or "per-work", t.get("licence_url"))
                paid.setdefault(key, []).append(tok)

        def licence(permits: list[str]) -> ET.Element:
            el = ET.SubElement(content, _Q + "license")
            # Always a <permits>: without one, RSL reads the licence as permitting every usage
            # not prohibited (TDM among them); an empty one permits nothing.
            permits_el = ET.SubElement(el, _Q + "permits", {"type": "usage"})
            if permits:
                permits_el.text = ",".join(permits)
            if denied:
                ET.SubElement(el, _Q + "prohibits", {"type": "usage"}).text = ",".join(denied)
            return el

        if allowed:
            ET.SubElement(licence(allowed), _Q + "payment", {"type": "free"})
        for (amount, currency, unit, licence_url), tokens in paid.items():
            pay = ET.SubElement(licence(tokens), _Q + "payment", {"type": RSL_PAYMENT_TYPE.get(unit, "use")})
            ET.SubElement(pay, _Q + "amount", {"currency": currency}).text = amount
            if licence_url:
                ET.SubElement(pay, _Q + "standard").text = licence_url
        if not allowed and not paid:
            licence([])
        contact = next((w.uses[u].get("contact") for u in w.uses if w.uses[u].get("contact")), None)
        attrs = {}
        if contact and contact.startswith("mailto:"):
            attrs["contactEmail"] = contact[len("mailto:"):]
        elif contact:
            attrs["contactUrl"] = contact
        ET.SubElement(content, _Q + "copyright", attrs).text = w.creator_name
        ET.SubElement(content, _Q + "terms").text = plan.url(f"/terms/works/{w.work_id}.html")
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


@dataclass(frozen=True)
class RslToken:
    """What an RSL document says about one usage token for one content URL."""

    decision: str  # "allow" | "license" | "deny" | "unspecified" | "conflict"
    amount: str | None = None
    currency: str | None = None
    payment_type: str | None = None
    standard: str | None = None


def read_rsl(data: bytes) -> dict[str, dict[str, RslToken]]:
    """``{content url: {token: RslToken}}`` from an RSL document; :class:`ValueError` if unreadable."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None
    except LookupError as exc:  # an unknown encoding in the XML declaration
        raise ValueError(f"unreadable XML declaration ({str(exc)[:80]})") from None
    if root.tag != _Q + "rsl":
        raise ValueError(f"root element is {root.tag!r}, not <rsl> in namespace {RSL_NS}")
    out: dict[str, dict[str, RslToken]] = {}
    for content in root.findall(_Q + "content"):
        url = content.get("url") or ""
        permitted: dict[str, list[RslToken]] = {}
        prohibited: set[str] = set()
        for lic in content.findall(_Q + "license"):
            pay = lic.find(_Q + "payment")
            ptype = (pay.get("type") if pay is not None else None) or "free"
            amount_el = pay.find(_Q + "amount") if pay is not None else None
            standard_el = pay.find(_Q + "standard") if pay is not None else None
            if ptype == "free" or (amount_el is None and ptype in ("attribution",)):
                tok_terms = RslToken("allow")
            else:
                tok_terms = RslToken(
                    "license",
                    amount=(amount_el.text or "").strip() if amount_el is not None else None,
                    currency=amount_el.get("currency") if amount_el is not None else None,
                    payment_type=ptype,
                    standard=(standard_el.text or "").strip() if standard_el is not None else None,
                )
            for el in lic.findall(_Q + "permits"):
                if el.get("type") == "usage":
                    for tok in _tokens(el.text):
                        permitted.setdefault(tok, []).append(tok_terms)
            for el in lic.findall(_Q + "prohibits"):
                if el.get("type") == "usage":
                    prohibited.update(_tokens(el.text))
        result: dict[str, RslToken] = {}
        for tok, _ in RSL_TOKENS:
            offers = permitted.get(tok, [])
            if offers and tok in prohibited:
                result[tok] = RslToken("conflict")
            elif any(o.decision == "allow" for o in offers):
                result[tok] = RslToken("allow")
            elif len(offers) == 1:
                result[tok] = offers[0]
            elif len(offers) > 1:
                result[tok] = RslToken("conflict")
            elif tok in prohibited:
                result[tok] = RslToken("deny")
            else:
                result[tok] = RslToken("unspecified")
        out[url] = result
    return out


def _tokens(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]

"""RSL (Really Simple Licensing) 1.0 licence documents, written and read back safely (pure).

Reading:

Parsing is done with :mod:`xml.parsers.expat` directly and refuses any
document type declaration: no DTD, so no internal or external entity is
ever defined or expanded ("billion laughs", XXE); an undefined entity is a
syntax error.  At most :data:`MAX_ELEMENTS` elements are read.

What is read: every ``<content url>`` (RSL namespace, or none) whose
pattern matches the resource (a full URL of the same site, or a path with
the robots.txt rules); of those, the most specific (longest pattern).  Each
``<license>`` in it is one offer: ``<permits type="usage">`` (none: every
usage), ``<prohibits type="usage">``, and ``<payment type>`` (absent or
``free``/``attribution``: free) with ``<amount currency>``.  Per use: some
offer permits it for free → ``allow``; else some offer permits it against
payment → ``license`` at the lowest amount; else some offer prohibits it →
``deny``.  A ``server`` attribute on ``<content>`` means a licence token is
always needed → ``license`` (price 0 when the offer is free).

Usage tokens → uses: ``all`` → ai_training, ai_generative, tdm,
search_indexing; ``ai-all`` and ``ai-train`` → ai_training, ai_generative;
``ai-input`` and ``ai-index`` → ai_generative; ``search`` → search_indexing.

A published site's ``/rsl.xml`` (:func:`render_rsl`): Spec: "Really Simple Licensing (RSL) 1.0 Specification", RSL-SPEC-1.0,
Recommendation of 2025-11-06, namespace ``https://rslstandard.org/rsl``.

One ``<content url="<base>/works/<id>/">`` per work with

- a free licence (``<payment type="free"/>``) permitting the usage tokens
  whose uses are all allowed;
- one paid licence per distinct price permitting the tokens that need a
  licence, with ``<payment type>`` from the unit (per-work ``purchase``,
  per-training-run ``training``, per-item, per-minute, per-article and per-1000-words ``use``),
  ``<amount currency>`` and ``<standard>`` = the licence URL when there is one;
- ``<prohibits type="usage">`` in every licence for the tokens that are denied
  (a licence with nothing permitted still carries the prohibitions);
- ``<copyright>`` (the creator, with a contact) and ``<terms>`` (the terms page).
  Every licence has a ``<permits type="usage">``, empty when nothing is
  permitted: a licence without one permits every usage it does not prohibit.

Writing derives a token's decision from every use it touches
(:data:`consentry.formats.mapping.RSL_TOKENS`, the strictest wins); reading
gives each token's uses (:data:`USAGE_USES`). ``ai-index`` is written from
ai_generative and search_indexing together but read as ai_generative only,
so a site never reads as more permissive than its terms.
:func:`licence_tokens` reads a document token by token (what
:func:`consentry.services.publish.check_site` compares with the terms).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from consentry.domain.signals import Signal, SignalProblem
from consentry.formats.mapping import RSL_PAYMENT_TYPE, RSL_TOKENS, rsl_terms
from consentry.formats.patterns import normalize_path, normalize_pattern, pattern_length, pattern_matches
from consentry.formats.text import format_decimal

if TYPE_CHECKING:
    from consentry.services.publish.plan import SitePlan

__all__ = ["XmlNode", "UnsafeXml", "parse_xml_safely", "RslDocument", "read_rsl", "rsl_signals", "MAX_ELEMENTS",
           "RSL_NAMESPACE", "USAGE_USES", "RslToken", "licence_tokens", "render_rsl"]

RSL_NAMESPACE = "https://rslstandard.org/rsl"
MAX_ELEMENTS = 200_000
#: Usage tokens and the uses a reader takes each to stand for.
USAGE_USES = {
    "all": ("ai_training", "ai_generative", "tdm", "search_indexing"),
    "ai-all": ("ai_training", "ai_generative"),
    "ai-train": ("ai_training", "ai_generative"),
    "ai-input": ("ai_generative",),
    "ai-index": ("ai_generative",),
    "search": ("search_indexing",),
}
_FREE = ("", "free", "attribution")


@dataclass
class XmlNode:
    """An element: local name, namespace, attributes (local names), text and children."""

    name: str
    namespace: str
    attrs: dict[str, str]
    children: list["XmlNode"] = field(default_factory=list)
    text: str = ""
    line: int = 0

    def find_all(self, name: str) -> list["XmlNode"]:
        out, stack = [], [self]
        while stack:
            node = stack.pop()
            if node.name == name:
                out.append(node)
            stack.extend(reversed(node.children))
        return out

    def child_all(self, name: str) -> list["XmlNode"]:
        return [c for c in self.children if c.name == name]


class UnsafeXml(ValueError):
    """An XML document that is refused (DTD, entities, too many elements) or is not well-formed."""


def parse_xml_safely(data: bytes, *, max_elements: int = MAX_ELEMENTS) -> XmlNode:
    """The element tree of ``data``; :class:`UnsafeXml` for a DTD, an entity, too many elements or bad XML."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    try:
        parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    except AttributeError:  # pragma: no cover - very old expat
        pass
    root: list[XmlNode] = []
    stack: list[XmlNode] = []
    count = [0]

    def refuse(*_args) -> None:
        raise UnsafeXml("declares a document type (DTD); refused so that no entity is expanded")

    def refuse_entity(*_args) -> None:
        raise UnsafeXml("declares or references an entity; refused")

    def start(name: str, attrs: dict) -> None:
        count[0] += 1
        if count[0] > max_elements:
            raise UnsafeXml(f"more than {max_elements} elements; not read further")
        namespace, _, local = name.rpartition(" ")
        node = XmlNode(local, namespace, {k.rpartition(" ")[2]: v for k, v in attrs.items()},
                       line=parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack and len(stack[-1].text) < 10_000:
            stack[-1].text += data

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.SkippedEntityHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise UnsafeXml(f"not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)} at line {exc.lineno})") from None
    except RecursionError:
        raise UnsafeXml("nested too deeply") from None
    except UnsafeXml:
        raise
    except (LookupError, ValueError) as exc:  # encoding="U-TF-8": unknown; "utf-32": multi-byte, expat refuses
        raise UnsafeXml(f"unreadable XML declaration ({str(exc)[:80]})") from None
    if not root:
        raise UnsafeXml("no root element")
    return root[0]


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.strip().lower()) if t]


@dataclass
class RslDocument:
    """A parsed RSL document: its ``<content>`` elements with their URL patterns, ready to match."""

    url: str
    contents: list[tuple[XmlNode, tuple | None, str]]   # (element, (scheme, host, port) or None, pattern)

    def signals_for(self, path: str, *, location: str, resource_url: str | None = None) -> list[Signal]:
        """Signals of the best-matching ``<content>`` for ``path`` (none match: no signals)."""
        target = normalize_path(path)
        site = None
        if resource_url:
            try:
                res = urlsplit(resource_url)
                site = (res.scheme.lower(), (res.hostname or "").lower(), res.port)
            except ValueError:
                site = None
        scored = []
        for content, origin, pattern in self.contents:
            if origin is not None and site is not None and origin != site:
                continue
            if pattern_matches(pattern, target):
                scored.append((pattern_length(pattern), content))
        best = max((n for n, _ in scored), default=-1)
        signals: list[Signal] = []
        for n, content in scored:
            if n == best:
                signals.extend(_content_signals(content, document_url=self.url, location=location))
        return signals


def read_rsl(data: bytes, *, document_url: str) -> tuple[RslDocument | None, list[SignalProblem]]:
    """Parse an RSL document safely (never raises)."""
    try:
        root = parse_xml_safely(data)
    except UnsafeXml as exc:
        return None, [SignalProblem("rsl", f"unreadable signal at {document_url}: {exc}", str(exc))]
    problems: list[SignalProblem] = []
    elements = [c for c in root.find_all("content") if c.namespace in (RSL_NAMESPACE, "")]
    if root.name != "rsl" and not elements:
        return None, [SignalProblem("rsl", f"unreadable signal at {document_url}: root element is <{root.name[:40]}>, "
                                           "not an RSL document", "not an RSL document")]
    if root.name == "rsl" and root.namespace != RSL_NAMESPACE:
        problems.append(SignalProblem("rsl", document_url, f"<rsl> is not in the namespace {RSL_NAMESPACE}; read anyway"))
    contents = []
    for element in elements:
        url = element.attrs.get("url", "").strip()
        origin = None
        if url.startswith(("http://", "https://")):
            try:
                parts = urlsplit(url)
                origin = (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)
                url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            except ValueError:
                continue
        contents.append((element, origin, normalize_pattern(url or "/")))
    return RslDocument(document_url, contents), problems


def rsl_signals(data: bytes, *, document_url: str, path: str, location: str,
                resource_url: str | None = None) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals an RSL document gives for ``path`` (never raises)."""
    document, problems = read_rsl(data, document_url=document_url)
    if document is None:
        return [], problems
    return document.signals_for(path, location=location, resource_url=resource_url), problems


def _content_signals(content: XmlNode, *, document_url: str, location: str) -> list[Signal]:
    server = content.attrs.get("server")
    url = content.attrs.get("url", "")
    offers: dict[str, dict[str, list]] = {}
    for n, licence in enumerate(content.child_all("license"), start=1):
        permitted: set[str] = set()
        prohibited: set[str] = set()
        usage_permits = [p for p in licence.child_all("permits") if p.attrs.get("type", "usage") == "usage"]
        conditions = {p.attrs.get("type"): _tokens(p.text) for p in licence.child_all("permits")
                      if p.attrs.get("type") in ("user", "geo")}
        if usage_permits:
            for p in usage_permits:
                for token in _tokens(p.text):
                    permitted.update(USAGE_USES.get(token, ()))
        else:
            permitted.update(USAGE_USES["all"])
        for p in licence.child_all("prohibits"):
            if p.attrs.get("type", "usage") == "usage":
                for token in _tokens(p.text):
                    prohibited.update(USAGE_USES.get(token, ()))
        payments = licence.child_all("payment")
        kinds = [p.attrs.get("type", "").strip().lower() for p in payments] or [""]
        amounts = []
        for payment in payments:
            for amount in payment.find_all("amount"):
                try:
                    value = float(amount.text.strip())
                except ValueError:
                    continue
                if value >= 0 and value == value and value != float("inf"):
                    amounts.append((value, (amount.attrs.get("currency") or "").upper()[:3] or None))
        paid = any(k not in _FREE for k in kinds) or any(v > 0 for v, _ in amounts)
        where = f"RSL {document_url} line {licence.line} (<content url=\"{url[:120]}\"> licence {n})"
        for use in permitted - prohibited:
            offers.setdefault(use, {"free": [], "paid": [], "prohibited": []})
            if paid:
                price = min(amounts, key=lambda a: a[0]) if amounts else (None, None)
                offers[use]["paid"].append((where, kinds, price, conditions))
            else:
                offers[use]["free"].append((where, kinds, (0.0 if server else None, None), conditions))
        for use in prohibited:
            offers.setdefault(use, {"free": [], "paid": [], "prohibited": []})
            offers[use]["prohibited"].append((where, kinds, (None, None), conditions))
    signals = []
    for use, found in offers.items():
        if found["free"]:
            where, kinds, (price, currency), conditions = found["free"][0]
            decision = "license" if server else "allow"
        elif found["paid"]:
            where, kinds, (price, currency), conditions = min(
                found["paid"], key=lambda o: (o[2][0] is None, o[2][0] or 0.0))
            decision = "license"
        else:
            where, kinds, (price, currency), conditions = found["prohibited"][0]
            decision = "deny"
        detail = {"content_url": url[:500], "payment": [k for k in kinds if k]}
        if server:
            detail["license_server"] = server[:500]
        if decision == "license" and price is not None:
            detail["price"] = price
        if decision == "license" and currency:
            detail["currency"] = currency
        if conditions:
            detail["conditions"] = conditions
        signals.append(Signal(use, decision, "rsl", where, location, detail))
    return signals


# ---------------------------------------------------------------- token by token

@dataclass(frozen=True)
class RslToken:
    """What an RSL document says about one usage token for one content URL."""

    decision: str  # "allow" | "license" | "deny" | "unspecified" | "conflict"
    amount: str | None = None
    currency: str | None = None
    payment_type: str | None = None
    standard: str | None = None


def licence_tokens(document: RslDocument) -> dict[str, dict[str, RslToken]]:
    """``{content url as written: {token: RslToken}}`` for the tokens of :data:`RSL_TOKENS`.

    A token permitted free by some licence is ``allow``; permitted by one
    paid licence, ``license`` with its price; by several paid ones, or
    permitted and prohibited, ``conflict``; only prohibited, ``deny``;
    neither, ``unspecified``.
    """
    out: dict[str, dict[str, RslToken]] = {}
    for content, _origin, _pattern in document.contents:
        permitted: dict[str, list[RslToken]] = {}
        prohibited: set[str] = set()
        for lic in content.child_all("license"):
            pays = lic.child_all("payment")
            pay = pays[0] if pays else None
            ptype = (pay.attrs.get("type") if pay is not None else None) or "free"
            amounts = pay.child_all("amount") if pay is not None else []
            standards = pay.child_all("standard") if pay is not None else []
            if ptype == "free" or (not amounts and ptype == "attribution"):
                offer = RslToken("allow")
            else:
                offer = RslToken("license", amount=amounts[0].text.strip() if amounts else None,
                                 currency=amounts[0].attrs.get("currency") if amounts else None, payment_type=ptype,
                                 standard=standards[0].text.strip() if standards else None)
            for el in lic.child_all("permits"):
                if el.attrs.get("type") == "usage":
                    for tok in _tokens(el.text):
                        permitted.setdefault(tok, []).append(offer)
            for el in lic.child_all("prohibits"):
                if el.attrs.get("type") == "usage":
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
        out[content.attrs.get("url", "")] = result
    return out


# ---------------------------------------------------------------- writing

RSL_NS = RSL_NAMESPACE
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

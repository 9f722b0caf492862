"""``verify_target``: read every AI-use signal for a URL, a published folder or a file; one verdict per use.

The readers (robots, aipref, tdmrep, rsl, markup, terms) are pure parsers;
this module fetches what they read, once per site, and turns every failure
into a :class:`~consentry.domain.signals.SignalProblem`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

from consentry.domain.errors import InputError
from consentry.formats.aipref import preference_signals
from consentry.formats.crawlers import Crawler, select_crawlers
from consentry.formats.headers import parse_headers_json
from consentry.formats.markup import parse_head, parse_link_header, robots_directive_signals
from consentry.formats.patterns import normalize_path, pattern_matches
from consentry.formats.robots import RobotsFile, content_usage_for, match_crawler, misread_user_agents, parse_robots
from consentry.formats.rsl import RslDocument, read_rsl
from consentry.formats.tdmrep import (
    TdmPolicy, match_tdmrep, parse_tdm_policy, parse_tdmrep_json, reservation_value, tdm_signals, work_paths,
)
from consentry.formats.terms_json import terms_json_signals
from consentry.domain.signals import Signal, SignalProblem
from consentry.services.verify.fetch import (
    Document, FetchPolicy, charset_of, decode_text, fetch_document, read_file_document, site_key,
)
from consentry.services.verify.report import ResourceReport, VerifyReport, merge_verdicts

__all__ = ["verify_target"]

_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".svg")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_WORK_PATH = re.compile(r"^/works/([^/?#]+)/")
#: Most RSL documents and licence links followed for one resource.
_MAX_LINKED = 5


def verify_target(target: str | Path, *, path: str | None = None,
                  user_agents: Iterable[str] | Mapping[str, str] | None = None,
                  policy: FetchPolicy = FetchPolicy()) -> VerifyReport:
    """Read every AI-use signal of ``target`` and give one verdict per use.

    Parameters
    ----------
    target : str or Path
        An ``http(s)`` URL (a page or media URL on a site), a published site
        folder (the layout of docs/terms-model.md), or a media file.
    path : str, optional
        For a URL or folder: the resource path to judge
        (``/works/<id>/song.mp3``).  Default: the URL's path; for a folder,
        every work path (``/works/<id>/``) its ``tdmrep.json`` names.
    user_agents : iterable of str, or mapping token -> purpose, optional
        AI crawler product tokens to evaluate in robots.txt (default: the
        list in formats/data/ai_crawlers.json).
    policy : FetchPolicy
        Deadline, size cap, redirects, cache and user agent for reading.

    Returns
    -------
    VerifyReport

    Raises
    ------
    InputError
        The target is neither an http(s) URL nor an existing file or folder.
    """
    text = str(target)
    crawlers, crawler_origin = select_crawlers(user_agents)
    cache = policy.cache if policy.cache is not None else {}
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise InputError(f"{text}: only http and https URLs can be verified, not '{scheme}'")
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - validates the port
        except ValueError as exc:
            raise InputError(f"{text}: not a valid URL ({exc})") from None
        if not parts.hostname:
            raise InputError(f"{text}: the URL names no host")
        site = _Site(origin=f"{parts.scheme.lower()}://{parts.netloc}", root=None, policy=policy, cache=cache)
        judged = [path or ((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))]
        kind = "url"
    else:
        local = Path(text)
        if local.is_file():
            return _verify_file(local, crawler_origin)
        if not local.is_dir():
            raise InputError(f"{text}: no such file or folder, and not an http(s) URL")
        site = _Site(origin=None, root=local, policy=policy, cache=cache)
        kind = "folder"
        judged = [path] if path else []
    reader = _Reader(site, crawlers)
    if not judged:
        judged = work_paths(reader.tdm_rules()) or ["/"]
    resources = [reader.evaluate(p if p.startswith("/") else "/" + p) for p in judged]
    signals = [s for r in resources for s in r.signals]
    problems = _unique_problems([p for r in resources for p in r.problems])
    return VerifyReport(target=text, kind=kind, verdicts=merge_verdicts(resources), signals=signals,
                        problems=problems, resources=resources, documents=site.summaries(),
                        crawlers=crawler_origin)


def _join(base: str, ref: str) -> str | None:
    """``urljoin(base, ref)``, or None when ``ref`` (read from a site) is not a valid URL (``http://[::1``)."""
    try:
        return urljoin(base, ref)
    except ValueError:
        return None


def _unique_problems(problems: list[SignalProblem]) -> list[SignalProblem]:
    seen, out = set(), []
    for p in problems:
        if (p.format, p.source, p.message) not in seen:
            seen.add((p.format, p.source, p.message))
            out.append(p)
    return out


def _verify_file(path: Path, crawler_origin: str) -> VerifyReport:
    """Embedded signals of one file, read by ``consentry.formats.embed`` (imported only now)."""
    signals: list[Signal] = []
    problems: list[SignalProblem] = []
    ai_generated: list = []
    try:
        from consentry.services.embed import read_embedded_signals  # written by another engineer; may not exist yet
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("consentry.formats.embed"):
            problems.append(SignalProblem("embedded", f"embedded signals of {path}: cannot be read yet",
                                          "consentry.formats.embed is not there yet: embedded signals (C2PA, XMP, ID3, "
                                          "Vorbis, MP4) cannot be read yet"))
        else:
            problems.append(SignalProblem("embedded", f"embedded signals of {path}: cannot be read",
                                          f"consentry.formats.embed needs a module that is not installed ({exc.name})"))
        read_embedded_signals = None
    except Exception as exc:
        problems.append(SignalProblem("embedded", f"embedded signals of {path}: cannot be read",
                                      f"consentry.formats.embed failed to load ({type(exc).__name__}: {exc})"[:300]))
        read_embedded_signals = None
    if read_embedded_signals is not None:
        try:
            reading = read_embedded_signals(path)
            found, trouble = reading
            ai_generated = list(getattr(reading, "ai_generated", []))
            signals = [s for s in found if isinstance(s, Signal)]
            problems.extend(p for p in trouble if isinstance(p, SignalProblem))
        except Exception as exc:
            problems.append(SignalProblem("embedded", f"unreadable signal at {path}: embedded signals",
                                          f"reading embedded signals failed ({type(exc).__name__}: {exc})"[:300]))
    resource = ResourceReport.build(str(path), str(path), signals, problems)
    return VerifyReport(target=str(path), kind="file", verdicts=merge_verdicts([resource]), signals=signals,
                        problems=list(resource.problems), resources=[resource],
                        documents=[{"url": str(path), "status": 200}], crawlers=crawler_origin,
                        ai_generated=ai_generated)


#: Formats that can only say yes or no: their "no" also means "not without a licence".
_YES_NO_FORMATS = frozenset({"robots.txt", "ai.txt", "content-usage", "x-robots-tag"})
#: Formats that can offer a licence (with a price).
_LICENCE_FORMATS = frozenset({"tdmrep", "rsl", "terms-json", "html-meta", "c2pa", "xmp", "id3", "vorbis", "mp4"})


def _read_yes_no_denials(signals: list[Signal]) -> list[Signal]:
    """A yes/no format's ``deny`` is read as ``license`` where another signal offers a licence for that use.

    robots.txt, ai.txt, Content-Usage and ``noai`` cannot express a licence:
    "not allowed" there is also what a licensed work says (not without a
    licence).  When a format that can offer a licence (TDMRep policy, RSL,
    terms JSON, embedded metadata) does so for the same use and resource,
    such a ``deny`` agrees with it and is kept as ``license`` (``detail``
    says so: ``as_written``, ``read_as_licence_because``).  A yes/no
    ``allow`` is never changed.
    """
    offers: dict[str, Signal] = {}
    for s in signals:
        if s.decision == "license" and s.format in _LICENCE_FORMATS and s.use not in offers:
            offers[s.use] = s
    out = []
    for s in signals:
        binary = s.format in _YES_NO_FORMATS or (s.format == "html-meta" and "directive" in s.detail)
        if binary and s.decision == "deny" and s.use in offers:
            offer = offers[s.use]
            detail = dict(s.detail, as_written="deny", read_as_licence_because=offer.source)
            for key in ("price", "currency"):
                if key in offer.detail:
                    detail[key] = offer.detail[key]
            s = Signal(s.use, "license", s.format, s.source, s.location, detail)
        out.append(s)
    return out


class _Site:
    """Where signal documents come from: an http(s) origin, or a published folder (offline)."""

    def __init__(self, *, origin: str | None, root: Path | None, policy: FetchPolicy, cache: dict) -> None:
        self.origin = origin
        self.root = root
        self.policy = policy
        self.cache = cache
        self.read: dict[str, Document] = {}
        self._headers_rules: list[tuple[str, str, list[tuple[str, str]]]] | None = None
        self.header_problems: list[SignalProblem] = []

    def url(self, path: str) -> str:
        """The URL (or folder path) a site path is read from; also the ``location`` of its signals."""
        return f"{self.origin}{path}" if self.origin else path

    def where(self, path: str) -> str:
        return f"{self.origin}{path}" if self.origin else f"{self.root}{path}"

    def get(self, ref: str, *, read_body=True) -> Document:
        """A document by site path (``/robots.txt``) or absolute URL, read once."""
        if self.origin:
            url = ref if ref.startswith(("http://", "https://")) else urljoin(self.origin + "/", ref)
            bucket = self.cache.setdefault(site_key(url), {})
            key = url if read_body is True else f"{url} [headers]"
            if key not in bucket:
                bucket[key] = fetch_document(url, policy=self.policy, read_body=read_body)
        else:
            path = self._folder_path(ref)
            bucket = self.cache.setdefault(f"folder:{self.root.resolve()}", {})
            key = path
            if key not in bucket:
                bucket[key] = read_file_document(self.root, path, policy=self.policy)
        document = bucket[key]
        self.read[document.url] = document
        return document

    def _folder_path(self, ref: str) -> str:
        """A site path in the folder for ``ref``; an absolute URL maps by the longest path suffix that exists."""
        if not ref.startswith(("http://", "https://")):
            return ref.split("#", 1)[0]
        try:
            path = urlsplit(ref).path or "/"
        except ValueError:
            return "/"
        segments = [s for s in path.split("/") if s]
        for start in range(len(segments)):
            candidate = "/" + "/".join(segments[start:])
            try:
                if (self.root / candidate.lstrip("/")).is_file():
                    return candidate
            except (OSError, ValueError):
                break
        return path

    def summaries(self) -> list[dict]:
        return [d.summary() for d in self.read.values()]

    def resource(self, path: str) -> tuple[list[tuple[str, str]], Document | None, str]:
        """Response headers of the resource (lower-case names), its HTML (if it is HTML) and where they came from."""
        if self.origin:
            def wants_body(headers) -> bool:
                types = [v.split(";")[0].strip().lower() for k, v in headers if k == "content-type"]
                return bool(types) and types[0] in _HTML_TYPES
            doc = self.get(self.url(path), read_body=wants_body)
            return list(doc.headers), doc, f"the response for {doc.url}"
        headers = self._folder_headers(path)
        body = None
        if path.split("?", 1)[0].lower().endswith((".html", ".htm")):
            body = self.get(path)
        return headers, body, f"headers.json rules for {path}"

    def _folder_headers(self, path: str) -> list[tuple[str, str]]:
        if self._headers_rules is None:
            self._headers_rules = []
            doc = self.get("/headers.json")
            if doc.ok:
                rules, problem = parse_headers_json(doc.body)
                self._headers_rules = rules
                if problem:
                    self.header_problems.append(SignalProblem(
                        "headers", f"unreadable signal at {doc.url}: {problem}", problem))
            elif doc.error:
                self.header_problems.append(SignalProblem(
                    "headers", f"unreadable signal at {doc.url}: {doc.error}", doc.error))
        target = normalize_path(path)
        return [h for _raw, pattern, headers in self._headers_rules if pattern_matches(pattern, target)
                for h in headers]


def _text_of(doc: Document, fmt: str, problems: list[SignalProblem]) -> str | None:
    """Text of a document that was read; problems for binary data, bad encoding and truncation."""
    head = doc.body[:8192]
    if b"\x00" in head or (head and sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 10):
        problems.append(SignalProblem(fmt, f"unreadable signal at {doc.url}: binary data, not text", "binary data"))
        return None
    text, note = decode_text(doc.body, charset=charset_of(doc))
    if note:
        problems.append(SignalProblem(fmt, f"unreadable signal at {doc.url}: {note}", note))
    return text


def _fetch_problem(doc: Document, fmt: str, *, what: str = "") -> SignalProblem | None:
    """A problem for a document that could not be read (``None`` when it was, or is simply absent)."""
    if doc.error:
        return SignalProblem(fmt, f"unreadable signal at {doc.url}: {doc.error}", doc.error)
    if doc.status >= 500:
        message = f"HTTP {doc.status}" + (f" ({what})" if what else "")
        return SignalProblem(fmt, f"unreadable signal at {doc.url}: {message}", message)
    if not doc.ok and not doc.absent:
        return SignalProblem(fmt, f"unreadable signal at {doc.url}: HTTP {doc.status}", f"HTTP {doc.status}")
    return None


def _truncation(doc: Document, fmt: str, limit: int) -> SignalProblem | None:
    if doc.truncated:
        message = f"larger than {limit} bytes: only the first {limit} bytes were read"
        return SignalProblem(fmt, f"unreadable signal at {doc.url}: {message}", message)
    return None


class _Reader:
    """Reads a site's signal documents once and evaluates them for each judged path."""

    def __init__(self, site: _Site, crawlers: list[Crawler]) -> None:
        self.site = site
        self.crawlers = crawlers
        self.tokens = {c.token.lower() for c in crawlers}
        self._robots: tuple[RobotsFile | None, list[SignalProblem]] | None = None
        self._aitxt: tuple[RobotsFile | None, list[SignalProblem]] | None = None
        self._tdm: tuple[list, list[SignalProblem]] | None = None
        self._policies: dict[str, tuple[TdmPolicy | None, list[SignalProblem]]] = {}
        self._rsl: dict[str, tuple[RslDocument | None, list[SignalProblem]]] = {}

    # -- site-wide documents, read once -------------------------------------------------
    def _robots_like(self, path: str, fmt: str) -> tuple[RobotsFile | None, list[SignalProblem]]:
        doc = self.site.get(path)
        problems: list[SignalProblem] = []
        what = "RFC 9309 §2.3.1.4: crawlers must then assume complete disallow" if fmt == "robots.txt" else ""
        problem = _fetch_problem(doc, fmt, what=what)
        if problem or not doc.ok:
            return None, [problem] if problem else []
        if (p := _truncation(doc, fmt, self.site.policy.max_bytes)):
            problems.append(p)
        text = _text_of(doc, fmt, problems)
        if text is None:
            return None, problems
        parsed = parse_robots(text)
        problems.extend(SignalProblem(fmt, self.site.where(path), note) for note in parsed.notes)
        return parsed, problems

    def robots(self) -> tuple[RobotsFile | None, list[SignalProblem]]:
        if self._robots is None:
            parsed, problems = self._robots_like("/robots.txt", "robots.txt")
            if parsed is not None:
                problems = problems + self._misread_agents(parsed)
            self._robots = (parsed, problems)
        return self._robots

    def _misread_agents(self, robots: RobotsFile) -> list[SignalProblem]:
        """One problem per ``User-agent`` line naming a crawler whose token RFC 9309 reads as another one."""
        where = self.site.where("/robots.txt")
        out = []
        for crawler in self.crawlers:
            for line, written, read_as in misread_user_agents(robots, crawler.token):
                if crawler.robots_txt == "not-read":
                    applied = f"{crawler.token} does not read robots.txt at all (its documentation), so the group is not applied"
                else:
                    applied = (f"applied here to {crawler.token}, as the site means it; whether {crawler.token} "
                               "itself applies it depends on its own matcher")
                out.append(SignalProblem(
                    "robots.txt", f"{where} line {line} (User-agent: {written[:80]})",
                    f"crawler {crawler.token} is not an RFC 9309 product token (letters, '_' and '-' only): "
                    f"an RFC 9309 matcher reads this line as 'User-agent: {read_as}', which never names "
                    f"{crawler.token}; {applied}"))
        return out

    def aitxt(self) -> tuple[RobotsFile | None, list[SignalProblem]]:
        if self._aitxt is None:
            self._aitxt = self._robots_like("/ai.txt", "ai.txt")
        return self._aitxt

    def tdm_rules(self) -> list:
        return self._tdmrep()[0]

    def _tdmrep(self) -> tuple[list, list[SignalProblem]]:
        if self._tdm is None:
            doc = self.site.get("/.well-known/tdmrep.json")
            problem = _fetch_problem(doc, "tdmrep")
            if problem or not doc.ok:
                self._tdm = ([], [problem] if problem else [])
            else:
                problems = [p for p in [_truncation(doc, "tdmrep", self.site.policy.max_bytes)] if p]
                rules, notes = parse_tdmrep_json(doc.body)
                problems.extend(SignalProblem("tdmrep", f"unreadable signal at {doc.url}: {n}" if not rules else doc.url, n)
                                for n in notes)
                self._tdm = (rules, problems)
        return self._tdm

    def policy(self, ref: str) -> tuple[TdmPolicy | None, list[SignalProblem]]:
        if ref not in self._policies:
            doc = self.site.get(ref)
            problem = _fetch_problem(doc, "tdmrep")
            if problem or not doc.ok:
                message = "TDM policy not found" if doc.absent else None
                problems = [problem] if problem else [SignalProblem("tdmrep", f"unreadable signal at {doc.url}: {message}",
                                                                    f"{message}: no way to know the licence terms")]
                self._policies[ref] = (None, problems)
            elif doc.content_type == "text/html":
                self._policies[ref] = (None, [])  # a human-readable policy: nothing to read by machine
            else:
                policy, error = parse_tdm_policy(doc.body, url=doc.url)
                self._policies[ref] = (policy, [] if policy else [
                    SignalProblem("tdmrep", f"unreadable signal at {doc.url}: {error}", error or "unreadable")])
        return self._policies[ref]

    # -- one resource ------------------------------------------------------------------
    def evaluate(self, path: str) -> ResourceReport:
        location = self.site.url(path)
        signals: list[Signal] = []
        problems: list[SignalProblem] = []
        rsl_refs: list[str] = []
        licence_refs: list[str] = []

        robots, robots_problems = self.robots()
        problems.extend(robots_problems)
        if robots is not None:
            signals.extend(self._robots_signals(robots, path, location))
            rsl_refs.extend(url for url, _ in robots.licenses)
            sig, prob = self._content_usage_signals(robots, path, location)
            signals.extend(sig)
            problems.extend(prob)

        aitxt, ai_problems = self.aitxt()
        problems.extend(ai_problems)
        if aitxt is not None:
            signals.extend(self._aitxt_signals(aitxt, path, location))

        rules, tdm_problems = self._tdmrep()
        problems.extend(tdm_problems)
        rule = match_tdmrep(rules, path)
        if rule is not None and rule.reservation is not None:
            policy, pprob = self.policy(rule.policy) if rule.reservation == 1 and rule.policy else (None, [])
            problems.extend(pprob)
            signals.extend(tdm_signals(rule.reservation, policy_url=rule.policy, policy=policy, fmt="tdmrep",
                                       source=f"{self.site.where('/.well-known/tdmrep.json')} rule {rule.index + 1} "
                                              f"(location {rule.location})",
                                       location=location, detail={"tdmrep_rank": "file"}))

        headers, page, header_origin = self.site.resource(path)
        if page is not None:
            problem = _fetch_problem(page, "headers")
            if problem:
                problems.append(problem)
        problems.extend(self.site.header_problems)
        signals.extend(self._header_signals(headers, path, location, header_origin, problems, rsl_refs, licence_refs))
        if page is not None and page.ok and page.body:
            signals.extend(self._html_signals(page, path, location, problems, rsl_refs, licence_refs))

        signals.extend(self._rsl_signals(rsl_refs, path, location, problems))
        signals.extend(self._terms_signals(path, location, licence_refs, problems))
        self._mark_tdm_precedence(signals)
        signals = _read_yes_no_denials(signals)
        return ResourceReport.build(path, location, signals, problems)

    def _robots_signals(self, robots: RobotsFile, path: str, location: str) -> list[Signal]:
        grouped: dict[tuple, tuple[Signal, list[str]]] = {}
        by_groups: dict[tuple[int, ...], object] = {}
        for crawler in self.crawlers:
            if crawler.robots_txt == "not-read":
                continue  # documented not to read robots.txt: nothing there speaks to it
            key = tuple(id(g) for g in robots.groups_for(crawler.token))
            if key not in by_groups:
                by_groups[key] = match_crawler(robots, crawler.token, path)
            decision = by_groups[key]
            verdict = ("allow" if decision.allowed else "deny") if decision.groups else "unspecified"
            for use in crawler.uses:
                key = (use, verdict, decision.group_key, decision.rule.line if decision.rule else 0)
                if key not in grouped:
                    source = f"{self.site.where('/robots.txt')} {decision.describe()}"
                    detail = {"allowed": decision.allowed, "rule": decision.rule.raw if decision.rule else None,
                              "rule_line": decision.rule.line if decision.rule else None}
                    grouped[key] = (Signal(use, verdict, "robots.txt", source, location, detail), [])
                grouped[key][1].append(crawler.token)
        out = []
        for signal, tokens in grouped.values():
            detail = dict(signal.detail, user_agents=tokens)
            out.append(Signal(signal.use, signal.decision, signal.format, signal.source + f" [{', '.join(tokens)}]"
                              if len(tokens) <= 3 else signal.source + f" [{len(tokens)} crawlers]",
                              signal.location, detail))
        return out

    def _content_usage_signals(self, robots: RobotsFile, path: str,
                               location: str) -> tuple[list[Signal], list[SignalProblem]]:
        signals: list[Signal] = []
        problems: list[SignalProblem] = []
        seen: dict[tuple[int, str, str], Signal] = {}
        rules_by_groups: dict[tuple[int, ...], list] = {}
        for token in ["*"] + [c.token for c in self.crawlers if c.robots_txt != "not-read"]:
            key = tuple(id(g) for g in robots.groups_for(token))
            if key not in rules_by_groups:
                rules_by_groups[key] = content_usage_for(match_crawler(robots, token, path), path)
            for rule in rules_by_groups[key]:
                source = f"{self.site.where('/robots.txt')} line {rule.line} (Content-Usage: {rule.raw} {rule.preference})"
                found, trouble = preference_signals(rule.preference, fmt="content-usage", source=source,
                                                    location=location)
                problems.extend(trouble)
                for s in found:
                    key = (rule.line, s.use, s.decision)
                    if key in seen:
                        seen[key].detail.setdefault("user_agents", []).append(token)
                        continue
                    s.detail["user_agents"] = [token]
                    seen[key] = s
                    signals.append(s)
        return signals, _unique_problems(problems)

    def _aitxt_signals(self, aitxt: RobotsFile, path: str, location: str) -> list[Signal]:
        decision = match_crawler(aitxt, "*", path)
        if not decision.groups:
            return []
        verdict = "allow" if decision.allowed else "deny"
        source = f"{self.site.where('/ai.txt')} {decision.describe()}"
        detail = {"allowed": decision.allowed, "rule": decision.rule.raw if decision.rule else None}
        return [Signal(use, verdict, "ai.txt", source, location, dict(detail)) for use in ("ai_training", "ai_generative")]

    def _header_signals(self, headers: list[tuple[str, str]], path: str, location: str, origin: str,
                        problems: list[SignalProblem], rsl_refs: list[str], licence_refs: list[str]) -> list[Signal]:
        values = lambda name: [v for k, v in headers if k == name]  # noqa: E731
        signals: list[Signal] = []
        reservations = values("tdm-reservation")
        if reservations:
            value = reservation_value(reservations[0])
            where = f"HTTP header tdm-reservation: {reservations[0][:20]} in {origin}"
            if value is None:
                problems.append(SignalProblem("tdmrep", where, "tdm-reservation is not 0 or 1 (read as unset)"))
            else:
                policy_url = (values("tdm-policy") or [None])[0]
                policy, pprob = self.policy(policy_url) if value == 1 and policy_url else (None, [])
                problems.extend(pprob)
                signals.extend(tdm_signals(value, policy_url=policy_url, policy=policy, fmt="tdmrep", source=where,
                                           location=location, detail={"tdmrep_rank": "header"}))
        usage = values("content-usage")
        if usage:
            expression = ", ".join(usage)
            found, trouble = preference_signals(expression, fmt="content-usage",
                                                source=f"HTTP header Content-Usage: {expression[:200]} in {origin}",
                                                location=location)
            signals.extend(found)
            problems.extend(trouble)
        robots_tags = values("x-robots-tag")
        if robots_tags:
            signals.extend(robots_directive_signals(
                robots_tags, fmt="x-robots-tag", source=f"HTTP header X-Robots-Tag: {'; '.join(robots_tags)[:200]} in {origin}",
                location=location, is_image=self._is_image(path, headers), crawler_tokens=self.tokens))
        for url, params in parse_link_header(values("link")):
            rels = params.get("rel", "").lower().split()
            if "license" not in rels:
                continue
            absolute = _join(self.site.url(path) if self.site.origin else "/", url)
            if absolute is None:
                problems.append(SignalProblem("headers", f"HTTP header Link: <{url[:100]}> in {origin}",
                                              "the licence link is not a valid URL (ignored)"))
                continue
            if "rsl" in params.get("type", "") or absolute.lower().endswith((".rsl", "rsl.xml")):
                rsl_refs.append(absolute)
            else:
                licence_refs.append(absolute)
        return signals

    def _is_image(self, path: str, headers: list[tuple[str, str]]) -> bool:
        types = [v.lower() for k, v in headers if k == "content-type"]
        return (bool(types) and types[0].startswith("image/")) or path.split("?", 1)[0].lower().endswith(_IMAGE_EXT)

    def _html_signals(self, page: Document, path: str, location: str, problems: list[SignalProblem],
                      rsl_refs: list[str], licence_refs: list[str]) -> list[Signal]:
        text, note = decode_text(page.body, charset=charset_of(page))
        if note:
            problems.append(SignalProblem("html-meta", f"unreadable signal at {page.url}: {note}", note))
        head = parse_head(text)
        meta = dict(reversed(head.meta))
        signals: list[Signal] = []
        if "tdm-reservation" in meta:
            value = reservation_value(meta["tdm-reservation"])
            where = f'<meta name="tdm-reservation" content="{meta["tdm-reservation"][:20]}"> in {page.url}'
            if value is None:
                problems.append(SignalProblem("html-meta", where, "tdm-reservation is not 0 or 1 (read as unset)"))
            else:
                policy_url = meta.get("tdm-policy") or None
                if policy_url and self.site.origin:
                    policy_url = _join(page.url, policy_url)
                    if policy_url is None:
                        problems.append(SignalProblem("html-meta", where, "tdm-policy is not a valid URL (ignored)"))
                policy, pprob = self.policy(policy_url) if value == 1 and policy_url else (None, [])
                problems.extend(pprob)
                signals.extend(tdm_signals(value, policy_url=policy_url, policy=policy, fmt="html-meta", source=where,
                                           location=location, detail={"tdmrep_rank": "html-meta"}))
        robots_values = [content for name, content in head.meta if name == "robots" or name in self.tokens]
        if robots_values:
            signals.extend(robots_directive_signals(
                robots_values, fmt="html-meta", source=f'<meta name="robots"> in {page.url}', location=location,
                is_image=False, crawler_tokens=self.tokens))
        for link in head.links:
            if "license" not in link["rel"].split():
                continue
            absolute = _join(page.url if self.site.origin else path, link["href"])
            if absolute is None:
                problems.append(SignalProblem("html-meta", f'<link rel="license" href="{link["href"][:100]}"> in {page.url}',
                                              "the licence link is not a valid URL (ignored)"))
                continue
            if "rsl" in link["type"]:
                rsl_refs.append(absolute)
            elif "json" in link["type"] or absolute.lower().endswith(".json"):
                licence_refs.append(absolute)
        return signals

    def _rsl_signals(self, refs: list[str], path: str, location: str, problems: list[SignalProblem]) -> list[Signal]:
        wanted: list[str] = []
        for ref in refs + ["/rsl.xml"]:
            key = self._normal_ref(ref)
            if key not in [self._normal_ref(w) for w in wanted]:
                wanted.append(ref)
        signals: list[Signal] = []
        for ref in wanted[:_MAX_LINKED]:
            doc = self.site.get(ref)
            problem = _fetch_problem(doc, "rsl")
            if problem:
                problems.append(problem)
            if not doc.ok:
                if doc.absent and ref != "/rsl.xml":
                    problems.append(SignalProblem("rsl", f"unreadable signal at {doc.url}: not found (HTTP {doc.status})",
                                                  "an RSL licence named by the site is not there"))
                continue
            if doc.url not in self._rsl:
                document, trouble = read_rsl(doc.body, document_url=doc.url)
                truncated = _truncation(doc, "rsl", self.site.policy.max_bytes)
                self._rsl[doc.url] = (document, ([truncated] if truncated else []) + trouble)
            document, trouble = self._rsl[doc.url]
            problems.extend(trouble)
            if document is not None:
                signals.extend(document.signals_for(path, location=location,
                                                    resource_url=self.site.url(path) if self.site.origin else None))
        return signals

    def _normal_ref(self, ref: str) -> str:
        if not self.site.origin:
            return self.site._folder_path(ref)
        if not ref.startswith(("http://", "https://")):
            return urljoin(self.site.origin + "/", ref)
        return ref

    def _terms_signals(self, path: str, location: str, licence_refs: list[str],
                       problems: list[SignalProblem]) -> list[Signal]:
        m = _WORK_PATH.match(path)
        refs: list[str] = []
        work_id = m.group(1) if m else None
        if work_id:
            refs.append(f"/terms/works/{work_id}.json")
        for ref in licence_refs:
            if self._normal_ref(ref) not in [self._normal_ref(r) for r in refs]:
                refs.append(ref)
        signals: list[Signal] = []
        for ref in refs[:_MAX_LINKED]:
            doc = self.site.get(ref)
            problem = _fetch_problem(doc, "terms-json")
            if problem:
                problems.append(problem)
            if not doc.ok:
                continue
            found, trouble = terms_json_signals(doc.body, document_url=doc.url, location=location, work_id=work_id)
            signals.extend(found)
            problems.extend(trouble)
        return signals

    @staticmethod
    def _mark_tdm_precedence(signals: list[Signal]) -> None:
        """Note, per TDMRep's processing order (HTML meta over header over file), which declarations are superseded."""
        rank = {"file": 0, "header": 1, "html-meta": 2}
        present = [s.detail.get("tdmrep_rank") for s in signals if s.detail.get("tdmrep_rank") in rank]
        if not present:
            return
        top = max(present, key=rank.__getitem__)
        for s in signals:
            r = s.detail.get("tdmrep_rank")
            if r in rank and rank[r] < rank[top]:
                s.detail["superseded_by"] = top

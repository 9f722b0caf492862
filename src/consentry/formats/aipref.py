"""AI usage preferences (``Content-Usage``) as draft-ietf-aipref-vocab and -attach define them (pure).

A preference expression is a Structured Field Dictionary (RFC 9651 §3.2):
``train-ai=n, search=y``.  :func:`parse_dictionary` is an RFC 9651 parser;
:func:`usage_preferences` turns an expression into one :class:`Signal` per
use it speaks about.

Labels read (every vocabulary revision seen so far; unknown labels are
ignored, as the draft asks):

============  ==========================================  =================================
label         drafts                                      our uses
============  ==========================================  =================================
train-ai      vocab-01 ... -08                            ai_training, ai_generative
train-genai   vocab-01 ... -03                            ai_generative
ai-use        vocab-01 ... -08                            ai_generative (use as input)
search        all                                         search_indexing
bots          vocab-01 ... -03 (automated processing)     parent of every category
tdm, ai,      vocab-00                                    tdm; ai_training; ai_generative;
genai,                                                    ai_generative (use as input)
inference
============  ==========================================  =================================

Within one expression a use without its own label takes its parent's
preference (vocab §"Consulting"): ``bots=n`` says ``n`` for training,
search and TDM.  ``ai_generative`` covers both training generative models
and prompting with the work, so it is ``deny`` when either is ``n``.
Values other than the tokens ``y`` and ``n`` state nothing.  An expression
that is not a valid dictionary (for instance an upper-case key) states
nothing and is reported as a problem.
"""

from __future__ import annotations

import base64
import re

from consentry.domain.signals import Signal, SignalProblem

__all__ = ["Token", "SFError", "parse_dictionary", "usage_preferences", "preference_labels", "preference_signals"]


class Token(str):
    """A Structured Field Token (distinct from a String)."""


class SFError(ValueError):
    """Not a valid Structured Field."""


_KEY_FIRST = set("abcdefghijklmnopqrstuvwxyz*")
_KEY_REST = _KEY_FIRST | set("0123456789_-.")
_TOKEN_FIRST = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz*")
_TCHAR = set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_TOKEN_REST = _TCHAR | set(":/")
_B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
#: Longest expression parsed (characters).
MAX_EXPRESSION_CHARS = 16 * 1024


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def done(self) -> bool:
        return self.i >= len(self.s)


def parse_dictionary(text: str) -> dict[str, tuple[object, dict]]:
    """Parse a Structured Field Dictionary (RFC 9651 §4.2.2): key -> (value, parameters).

    Later members with the same key replace earlier ones.  Raises
    :class:`SFError` on any syntax error.
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise SFError(f"longer than {MAX_EXPRESSION_CHARS} characters")
    if any(ord(c) > 0x7E or (ord(c) < 0x20 and c != "\t") for c in text):
        raise SFError("contains characters outside printable ASCII")
    r = _Reader(text.strip(" \t"))
    out: dict[str, tuple[object, dict]] = {}
    while not r.done():
        key = _key(r)
        if r.peek() == "=":
            r.take()
            value = _item_or_inner_list(r)
        else:
            value = (True, _parameters(r))
        out.pop(key, None)
        out[key] = value
        r.skip(" \t")
        if r.done():
            return out
        if r.take() != ",":
            raise SFError(f"expected ',' at position {r.i}")
        r.skip(" \t")
        if r.done():
            raise SFError("trailing comma")
    return out


def _key(r: _Reader) -> str:
    if r.peek() not in _KEY_FIRST or not r.peek():
        raise SFError(f"a key must start with a lower-case letter or '*' (position {r.i})")
    start = r.i
    while r.peek() and r.peek() in _KEY_REST:
        r.i += 1
    return r.s[start:r.i]


def _item_or_inner_list(r: _Reader) -> tuple[object, dict]:
    if r.peek() == "(":
        r.take()
        items = []
        while True:
            r.skip(" ")
            if r.peek() == ")":
                r.take()
                return items, _parameters(r)
            items.append((_bare_item(r), _parameters(r)))
            if r.peek() not in (" ", ")"):
                raise SFError(f"bad inner list at position {r.i}")
    return _bare_item(r), _parameters(r)


def _parameters(r: _Reader) -> dict:
    params: dict = {}
    while r.peek() == ";":
        r.take()
        r.skip(" ")
        key = _key(r)
        value: object = True
        if r.peek() == "=":
            r.take()
            value = _bare_item(r)
        params[key] = value
    return params


def _bare_item(r: _Reader) -> object:
    ch = r.peek()
    if ch == "-" or ch.isdigit():
        return _number(r)
    if ch == '"':
        return _string(r)
    if ch in _TOKEN_FIRST and ch:
        start = r.i
        r.take()
        while r.peek() and r.peek() in _TOKEN_REST:
            r.i += 1
        return Token(r.s[start:r.i])
    if ch == ":":
        r.take()
        start = r.i
        while r.peek() and r.peek() in _B64:
            r.i += 1
        if r.take() != ":":
            raise SFError("unterminated byte sequence")
        try:
            return base64.b64decode(r.s[start:r.i - 1], validate=False)
        except ValueError:
            raise SFError("bad byte sequence") from None
    if ch == "?":
        r.take()
        flag = r.take()
        if flag not in ("0", "1"):
            raise SFError("bad boolean")
        return flag == "1"
    if ch == "@":
        r.take()
        value = _number(r)
        if not isinstance(value, int):
            raise SFError("a date must be an integer")
        return ("date", value)
    if ch == "%":
        r.take()
        if r.peek() != '"':
            raise SFError("bad display string")
        return ("display", _string(r))
    raise SFError(f"unexpected character {ch!r} at position {r.i}" if ch else "value missing")


_NUMBER = re.compile(r"-?(\d{1,15})(\.(\d{1,3}))?")


def _number(r: _Reader) -> int | float:
    m = _NUMBER.match(r.s, r.i)
    if not m:
        raise SFError(f"bad number at position {r.i}")
    if m.group(2) is not None and len(m.group(1)) > 12:
        raise SFError("decimal too long")
    if m.group(2) is not None and not m.group(3):
        raise SFError("bad decimal")
    r.i = m.end()
    if r.peek() == "." or (r.peek().isdigit() and r.peek()):
        raise SFError("number too long")
    return float(m.group(0)) if m.group(2) else int(m.group(0))


def _string(r: _Reader) -> str:
    r.take()
    out = []
    while True:
        if r.done():
            raise SFError("unterminated string")
        ch = r.take()
        if ch == "\\":
            nxt = r.take()
            if nxt not in ('"', "\\"):
                raise SFError("bad escape in string")
            out.append(nxt)
        elif ch == '"':
            return "".join(out)
        else:
            out.append(ch)


# label -> preference, read within one expression.
_TRAINING_CHAIN = {
    "ai_training": ("train-ai", "ai", "bots", "tdm"),
    "ai_generative": ("train-genai", "genai", "train-ai", "ai", "bots", "tdm"),
    "tdm": ("tdm", "bots"),
    "search_indexing": ("search", "bots", "tdm"),
}
_INPUT_CHAIN = ("ai-use", "inference", "bots", "tdm")


def usage_preferences(expression: str) -> tuple[dict[str, tuple[str, list[str]]], str | None]:
    """Our uses an expression speaks about: use -> (``allow``/``deny``, labels it came from).

    Returns the mapping and, when the expression is not a valid dictionary,
    why (the mapping is then empty).
    """
    try:
        members = parse_dictionary(expression)
    except SFError as exc:
        return {}, str(exc)
    said: dict[str, str] = {}
    for key, (value, _params) in members.items():
        if isinstance(value, Token) and value in ("y", "n"):
            said[key] = "allow" if value == "y" else "deny"

    def first(chain: tuple[str, ...]) -> tuple[str, str] | None:
        for label in chain:
            if label in said:
                return said[label], label
        return None

    out: dict[str, tuple[str, list[str]]] = {}
    for use, chain in _TRAINING_CHAIN.items():
        found = first(chain)
        if use == "ai_generative":
            as_input = first(_INPUT_CHAIN)
            candidates = [f for f in (found, as_input) if f]
            if candidates:
                decision = "deny" if any(d == "deny" for d, _ in candidates) else "allow"
                out[use] = (decision, sorted({label for _, label in candidates}))
            continue
        if found:
            out[use] = (found[0], [found[1]])
    return out, None


def preference_labels(expression: str) -> dict[str, str] | None:
    """A Content-Usage value as ``{label: "y" | "n" | other}``, or ``None`` if it is not a valid dictionary.

    Read with :func:`parse_dictionary` (RFC 9651, strict); a token or string
    value is given as written, a boolean as ``?1``/``?0``, parameters are
    dropped. What :func:`consentry.formats.mapping.content_usage` writes reads
    back as :func:`consentry.formats.mapping.expected_aipref`.
    """
    try:
        members = parse_dictionary(expression)
    except SFError:
        return None
    out: dict[str, str] = {}
    for key, (value, _params) in members.items():
        if isinstance(value, bool):
            out[key] = "?1" if value else "?0"
        elif isinstance(value, str):
            out[key] = str(value)
        else:
            out[key] = repr(value)
    return out


def preference_signals(expression: str, *, fmt: str, source: str, location: str,
                       detail: dict | None = None) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals of one preference expression (a ``Content-Usage`` header or robots.txt rule)."""
    prefs, error = usage_preferences(expression)
    if error is not None:
        return [], [SignalProblem(fmt, source, f"Content-Usage {expression[:120]!r} is not a structured-field "
                                               f"dictionary ({error}): no preference taken")]
    signals = []
    for use, (decision, labels) in prefs.items():
        d = {"expression": expression[:500], "labels": labels, "vocabulary": "draft-ietf-aipref-vocab"}
        d.update(detail or {})
        signals.append(Signal(use=use, decision=decision, format=fmt, source=source, location=location, detail=d))
    return signals, []

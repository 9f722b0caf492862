"""SQL as tokens and nested groups: the lexer and tree that :mod:`consentry.store.pg_schema` translates.

Portable SQLite SQL (the subset the schema and the stores use) is split into
tokens (words, quoted names and strings, numbers, operators, parameters),
statements, and a tree of parenthesised groups; :func:`_render` writes a
tree back as SQL. Pure, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

__all__ = ["Group", "NotPortableError", "Tok", "split_statements", "tokenize"]


class NotPortableError(ValueError):
    """SQL outside the portable subset that the PostgreSQL store can run."""


# -- tokens ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tok:
    kind: str  # word, qident, str, blob, num, param, op
    text: str
    space: bool = True  # whitespace (or a comment) came before it in the source

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<str>'(?:[^']|'')*')
  | (?P<blob>[xX]'[0-9a-fA-F]*')
  | (?P<qident>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)
  | (?P<param>\?\d*|[:@$][A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||==|!=|<>|<=|>=|<<|>>|[-+*/%&|~<>=(),;.])
    """,
    re.S | re.X,
)


def tokenize(sql: str) -> list[Tok]:
    """Tokens of ``sql`` without whitespace and comments."""
    out: list[Tok] = []
    pos = 0
    space = False
    while pos < len(sql):
        m = _TOKEN_RE.match(sql, pos)
        if m is None:
            snippet = sql[pos:pos + 20]
            if sql[pos] in "'\"`[":
                raise NotPortableError(f"unterminated quote in SQL near {snippet!r}")
            raise NotPortableError(f"unexpected character {sql[pos]!r} in SQL near {snippet!r}")
        kind = m.lastgroup
        pos = m.end()
        if kind in ("ws", "comment"):
            space = True
            continue
        text = m.group()
        if kind == "qident" and text[0] in "`[":
            inner = text[1:-1].replace("``", "`") if text[0] == "`" else text[1:-1]
            text = '"' + inner.replace('"', '""') + '"'
        out.append(Tok(kind, text, space))
        space = False
    return out


def split_statements(sql: str) -> list[list[Tok]]:
    """Statements of a script, as token lists (a trigger's BEGIN ... END body stays whole)."""
    statements: list[list[Tok]] = []
    current: list[Tok] = []
    in_body = False
    case_depth = 0
    for tok in tokenize(sql):
        if tok.kind == "op" and tok.text == ";" and not in_body:
            if current:
                statements.append(current)
            current = []
            continue
        current.append(tok)
        u = tok.upper
        if u == "BEGIN" and _is_trigger(current):
            in_body = True
        elif in_body and u == "CASE":
            case_depth += 1
        elif in_body and u == "END":
            if case_depth:
                case_depth -= 1
            else:
                in_body = False
    if in_body:
        raise NotPortableError("trigger without END in migration")
    if current:
        statements.append(current)
    return statements


def _is_trigger(tokens: list[Tok]) -> bool:
    words = [t.upper for t in tokens[:3]]
    return words[:1] == ["CREATE"] and ("TRIGGER" in words[1:3])


# -- a light tree: parenthesised groups ---------------------------------------------------

class Group(list):
    """The tokens between a pair of parentheses (nested groups inside)."""

    space = True  # whitespace came before the "("

    def __init__(self, items=(), space: bool = True) -> None:
        super().__init__(items)
        self.space = space


def _tree(tokens: list[Tok]) -> list:
    stack: list[list] = [[]]
    for tok in tokens:
        if tok.kind == "op" and tok.text == "(":
            g = Group(space=tok.space)
            stack[-1].append(g)
            stack.append(g)
        elif tok.kind == "op" and tok.text == ")":
            if len(stack) == 1:
                raise NotPortableError("unbalanced ')' in SQL")
            stack.pop()
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise NotPortableError("unbalanced '(' in SQL")
    return stack[0]


def _render(items: Iterable) -> str:
    """SQL text of tokens and groups, spaced as in the source (and around what the translation added)."""
    parts: list[str] = []
    for it in items:
        text = "(" + _render(it) + ")" if isinstance(it, Group) else it.text
        if parts and it.space:
            parts.append(" ")
        parts.append(text)
    return "".join(parts)


def _split_commas(items: list) -> list[list]:
    out: list[list] = [[]]
    for it in items:
        if isinstance(it, Tok) and it.kind == "op" and it.text == ",":
            out.append([])
        else:
            out[-1].append(it)
    return out if out != [[]] else []


def _is_op(it, text: str) -> bool:
    return isinstance(it, Tok) and it.kind == "op" and it.text == text


def _word(it) -> str:
    return it.upper if isinstance(it, Tok) else ""

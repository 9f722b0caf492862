"""Translate the registry's portable SQL into PostgreSQL.

The registry's schema (:mod:`consentry.store.schema`) and the table mixins'
queries are written once, in a subset of SQL that SQLite runs as is.  This
module turns that subset into PostgreSQL, so :class:`consentry.store.postgres.PostgresStore`
runs the same migrations and the same mixin code.

Migrations (:func:`translate_migrations`)
    ``CREATE TABLE`` with column types TEXT → TEXT COLLATE "C" (byte order,
    as SQLite compares text, whatever the database's locale), INTEGER →
    BIGINT, REAL → DOUBLE PRECISION, BLOB → BYTEA; column and table constraints PRIMARY KEY,
    UNIQUE, NOT NULL, DEFAULT, CHECK, REFERENCES / FOREIGN KEY, CONSTRAINT
    names; ``CREATE [UNIQUE] INDEX`` (partial indexes with WHERE);
    ``ALTER TABLE ... ADD COLUMN`` (also RENAME and DROP COLUMN, whose
    syntax is the same); ``DROP TABLE / INDEX / TRIGGER``; and triggers
    ``CREATE TRIGGER name BEFORE|AFTER INSERT|UPDATE [OF cols]|DELETE ON table
    [FOR EACH ROW] [WHEN expr] BEGIN SELECT RAISE(ABORT, 'message') [WHERE expr]; END``
    which become a plpgsql function raising the same message (SQLSTATE
    23000, an integrity error as in SQLite) and a row trigger calling it.

    SQLite gives every table a ``rowid``; the translation does too, so that
    queries ordering by ``rowid`` (insertion order) mean the same thing:
    a table whose primary key is a single INTEGER column (SQLite's alias of
    the rowid) gets ``rowid`` as a generated copy of that column, and the
    column is numbered like SQLite does (largest + 1, by a BEFORE INSERT
    trigger) when an INSERT leaves it out, so tables may mix given and
    automatic numbers; every other table gets ``rowid BIGINT GENERATED
    ALWAYS AS IDENTITY`` as its last column.  ``SELECT *`` therefore returns
    one more column on PostgreSQL: name the columns.

    Anything else (other column types, AUTOINCREMENT, COLLATE, WITHOUT ROWID,
    views, other trigger bodies, a column named with a word PostgreSQL
    reserves) raises :class:`NotPortableError` naming the construct, so a
    migration that leaves the subset fails in the tests instead of being
    translated wrongly.

Queries (:func:`translate_query`)
    ``?`` placeholders become ``%s`` (outside string literals; ``%`` is
    doubled for psycopg); ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO
    NOTHING``; ``LIKE`` becomes ``ILIKE ... ESCAPE ''`` (SQLite's LIKE
    ignores ASCII case and has no escape character unless one is given);
    ``a IS b`` / ``a IS NOT b`` with a non-NULL ``b`` become ``IS [NOT]
    DISTINCT FROM``; ``==`` becomes ``=``; ``IFNULL`` becomes ``COALESCE``;
    ``MAX``/``MIN`` with several arguments become ``GREATEST``/``LEAST``;
    ``CAST(x AS INTEGER|REAL|BLOB)`` use the translated types;
    ``CURRENT_TIMESTAMP`` gives SQLite's text form; and each ``ORDER BY``
    term that may be NULL gets ``NULLS FIRST`` (ascending) or ``NULLS LAST``
    (descending), which is where SQLite sorts NULLs.  ``INSERT OR REPLACE``
    and SQLite-only functions (``datetime``, ``strftime``, ``group_concat``,
    ``json_extract``, ...) raise :class:`NotPortableError`: use ``INSERT ...
    ON CONFLICT (...) DO UPDATE`` and compute times in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

__all__ = ["NotPortableError", "split_statements", "translate_migrations", "translate_query", "tokenize"]


from consentry.store.sqltokens import (  # noqa: F401  (NotPortableError, split_statements and tokenize re-exported)
    Group, NotPortableError, Tok, _is_op, _is_trigger, _render, _split_commas, _tree, _word, split_statements,
    tokenize,
)


# -- expressions and queries ---------------------------------------------------------------

_TYPES = {"TEXT": "TEXT", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}
_CAST_TYPES = {**_TYPES, "INT": "BIGINT", "NUMERIC": "NUMERIC"}

#: SQLite's text form of the current time, date and time of day (UTC).
_NOW_TEXT = {
    "CURRENT_TIMESTAMP": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
    "CURRENT_DATE": "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "CURRENT_TIME": "to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS')",
}

_SQLITE_ONLY_FUNCTIONS = {
    "DATETIME", "DATE", "TIME", "JULIANDAY", "STRFTIME", "UNIXEPOCH", "GROUP_CONCAT", "TOTAL", "PRINTF", "INSTR",
    "TYPEOF", "LAST_INSERT_ROWID", "CHANGES", "TOTAL_CHANGES", "RANDOMBLOB", "ZEROBLOB", "HEX", "UNHEX", "IIF",
    "GLOB", "LIKELY", "UNLIKELY", "LIKELIHOOD", "SQLITE_VERSION", "JSON", "JSON_EXTRACT", "JSON_OBJECT",
    "JSON_ARRAY", "JSON_GROUP_ARRAY", "JSON_GROUP_OBJECT", "JSON_VALID", "JSON_TYPE", "JSON_EACH", "JSON_TREE",
    "JSON_SET", "JSON_INSERT", "JSON_REPLACE", "JSON_REMOVE", "JSON_PATCH", "JSON_ARRAY_LENGTH", "JSON_QUOTE",
    "SOUNDEX", "QUOTE", "CHAR", "UNICODE", "FORMAT",
}

#: Words after which a name followed by "(" is a table (with a column list), not a function.
_BEFORE_TABLE_NAME = {"INTO", "TABLE", "ON", "REFERENCES", "UPDATE", "INDEX"}

_ORDER_STOP = {"LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "FOR", "RETURNING", "WINDOW"}


@dataclass
class _QueryContext:
    params: bool
    not_null: frozenset = frozenset()


def _translate_items(items: list, ctx: _QueryContext, *, in_cast: bool = False) -> list:
    """Translate one level of an expression or statement (groups recursively)."""
    out: list = []
    i = 0
    n = len(items)
    while i < n:
        it = items[i]
        if isinstance(it, Group):
            out.append(Group(_translate_items(list(it), ctx), space=it.space))
            i += 1
            continue
        kind, u = it.kind, it.upper
        nxt = items[i + 1] if i + 1 < n else None
        if kind == "param":
            if it.text != "?":
                raise NotPortableError(f"placeholder {it.text} is not portable; use ?")
            out.append(Tok("param", "%s" if ctx.params else "?", it.space))
        elif kind == "str":
            out.append(Tok("str", it.text.replace("%", "%%") if ctx.params else it.text, it.space))
        elif kind == "blob":
            out.append(Tok("str", "'\\x" + it.text[2:-1] + "'::bytea", it.space))
        elif kind == "op" and it.text == "%":
            out.append(Tok("op", "%%" if ctx.params else "%", it.space))
        elif kind == "op" and it.text == "==":
            out.append(Tok("op", "=", it.space))
        elif kind == "op" and it.text == ";":
            if i + 1 < n:
                raise NotPortableError("one statement at a time")
        elif u == "IS":
            follow = _word(nxt)
            plain = ("NULL", "TRUE", "FALSE", "UNKNOWN", "DISTINCT")
            if follow == "NOT" and _word(items[i + 2] if i + 2 < n else None) not in plain:
                # "a IS NOT b" -> "a IS DISTINCT FROM b"
                out.extend([Tok("word", "IS", it.space), Tok("word", "DISTINCT"), Tok("word", "FROM")])
                i += 2
                continue
            out.append(it)
            if follow not in plain and follow != "NOT":
                # "a IS b" -> "a IS NOT DISTINCT FROM b"
                out.extend([Tok("word", "NOT"), Tok("word", "DISTINCT"), Tok("word", "FROM")])
        elif u in ("LIKE", "GLOB", "REGEXP", "MATCH"):
            if u != "LIKE":
                raise NotPortableError(f"{u} is SQLite-only; use LIKE")
            out.append(Tok("word", "ILIKE", it.space))
            j = _operand_end(items, i + 1)
            out.extend(_translate_items(items[i + 1:j], ctx))
            if _word(items[j] if j < n else None) != "ESCAPE":
                out.extend([Tok("word", "ESCAPE"), Tok("str", "''")])
            i = j
            continue
        elif u in _NOW_TEXT and not isinstance(nxt, Group):
            out.append(Tok("word", _NOW_TEXT[u].replace("%", "%%") if ctx.params else _NOW_TEXT[u], it.space))
        elif kind == "word" and isinstance(nxt, Group) and (i == 0 or not (
                _is_op(items[i - 1], ".") or _word(items[i - 1]) in _BEFORE_TABLE_NAME)):
            args = _split_commas(list(nxt))
            if u in _SQLITE_ONLY_FUNCTIONS:
                raise NotPortableError(f"function {it.text}() is SQLite-only; compute it in Python or use a portable form")
            name = it
            if u == "IFNULL":
                name = Tok("word", "COALESCE", it.space)
            elif u in ("MAX", "MIN") and len(args) > 1:
                name = Tok("word", "GREATEST" if u == "MAX" else "LEAST", it.space)
            out.append(name)
            out.append(Group(_translate_items(list(nxt), ctx, in_cast=(u == "CAST")), space=nxt.space))
            i += 2
            continue
        elif in_cast and u == "AS" and nxt is not None and _word(nxt) in _CAST_TYPES:
            out.append(it)
            out.append(Tok("word", _CAST_TYPES[_word(nxt)], nxt.space))
            i += 2
            continue
        elif u in ("_ROWID_", "OID") and not isinstance(nxt, Group):
            out.append(Tok("word", "rowid", it.space))
        elif u == "ORDER" and _word(nxt) == "BY":
            out.extend([it, nxt])
            j = i + 2
            end = j
            while end < n and not (_word(items[end]) in _ORDER_STOP or _is_op(items[end], ";")):
                end += 1
            terms = _split_commas(items[j:end])
            for k, term in enumerate(terms):
                if k:
                    out.append(Tok("op", ",", False))
                out.extend(_order_term(term, ctx))
            i = end
            continue
        else:
            out.append(it)
        i += 1
    return out


def _operand_end(items: list, start: int) -> int:
    """End (exclusive) of the right operand of LIKE starting at ``start``: term ('||' term)*."""
    n = len(items)
    j = start

    def term(j: int) -> int:
        if j < n and _is_op(items[j], "-") or j < n and _is_op(items[j], "+"):
            j += 1
        if j >= n:
            return j
        it = items[j]
        j += 1
        if isinstance(it, Tok) and it.kind in ("word", "qident"):
            if j < n and isinstance(items[j], Group):
                return j + 1
            while j + 1 < n and _is_op(items[j], ".") and isinstance(items[j + 1], Tok):
                j += 2
        return j

    j = term(j)
    while j < n and _is_op(items[j], "||"):
        j = term(j + 1)
    return j


def _order_term(term: list, ctx: _QueryContext) -> list:
    """One ORDER BY term, with SQLite's NULL placement unless the column can never be NULL."""
    words = [_word(t) for t in term]
    translated = _translate_items(term, ctx)
    if "NULLS" in words or not term:
        return translated
    direction = words[-1] if words[-1] in ("ASC", "DESC") else ""
    core = term[:-1] if direction else term
    simple = all(isinstance(t, Tok) for t in core) and (
        len(core) == 1 and core[0].kind in ("word", "qident")
        or len(core) == 3 and _is_op(core[1], ".") and core[2].kind in ("word", "qident"))
    if simple:
        name = core[-1].text.strip('"').lower()
        if name in ctx.not_null:
            return translated
    return translated + [Tok("word", "NULLS"), Tok("word", "LAST" if direction == "DESC" else "FIRST")]


def translate_query(sql: str, *, params: bool = True, not_null: Iterable[str] = ()) -> str:
    """PostgreSQL text of one portable statement (see the module docstring).

    Parameters
    ----------
    sql : str
        One statement with ``?`` placeholders.
    params : bool
        The statement will be run with parameters (psycopg ``%s`` style:
        ``?`` becomes ``%s`` and ``%`` is doubled).
    not_null : iterable of str
        Column names that are NOT NULL in every table that has them
        (their ORDER BY terms need no NULLS clause, so indexes still serve them).
    """
    ctx = _QueryContext(params=params, not_null=frozenset(c.lower() for c in not_null))
    tokens = tokenize(sql)
    while tokens and _is_op(tokens[-1], ";"):
        tokens.pop()
    on_conflict = False
    if len(tokens) >= 3 and tokens[0].upper in ("INSERT", "REPLACE"):
        if tokens[0].upper == "REPLACE" or (tokens[1].upper == "OR" and tokens[2].upper == "REPLACE"):
            raise NotPortableError("INSERT OR REPLACE is SQLite-only; use INSERT ... ON CONFLICT (key columns) DO UPDATE SET ...")
        if tokens[1].upper == "OR":
            action = tokens[2].upper
            if action not in ("IGNORE", "ABORT", "FAIL", "ROLLBACK"):
                raise NotPortableError(f"INSERT OR {tokens[2].text} is not portable")
            on_conflict = action == "IGNORE"
            tokens = [tokens[0], *tokens[3:]]
    items = _translate_items(_tree(tokens), ctx)
    if on_conflict:
        if any(_word(t) == "CONFLICT" for t in items):
            raise NotPortableError("INSERT OR IGNORE with an ON CONFLICT clause")
        at = next((k for k, t in enumerate(items) if _word(t) == "RETURNING"), len(items))
        items[at:at] = [Tok("word", "ON"), Tok("word", "CONFLICT"), Tok("word", "DO"), Tok("word", "NOTHING")]
    return _render(items)


# -- migrations ------------------------------------------------------------------------------

#: Words PostgreSQL reserves (and so refuses as bare table or column names) that SQLite accepts.
PG_RESERVED = frozenset("""
    ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC AUTHORIZATION BINARY BOTH CASE CAST CHECK COLLATE COLLATION
    COLUMN CONCURRENTLY CONSTRAINT CREATE CROSS CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_SCHEMA
    CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE FETCH
    FOR FOREIGN FREEZE FROM FULL GRANT GROUP HAVING ILIKE IN INITIALLY INNER INTERSECT INTO IS ISNULL JOIN LATERAL
    LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP NATURAL NOT NOTNULL NULL OFFSET ON ONLY OR ORDER OUTER
    OVERLAPS PLACING PRIMARY REFERENCES RETURNING RIGHT SELECT SESSION_USER SIMILAR SOME SYMMETRIC TABLE TABLESAMPLE
    THEN TO TRAILING TRUE UNION UNIQUE USER USING VARIADIC VERBOSE WHEN WHERE WINDOW WITH
""".split())


@dataclass
class _Table:
    columns: dict[str, str] = field(default_factory=dict)  # name -> portable type
    autonumber: str | None = None  # the INTEGER PRIMARY KEY column, if any


@dataclass
class _Catalog:
    """What the earlier statements created (the translation of later ones depends on it)."""

    tables: dict[str, _Table] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)  # trigger -> table


def _name(tok, what: str) -> str:
    if not isinstance(tok, Tok) or tok.kind not in ("word", "qident"):
        raise NotPortableError(f"expected {what} name, found {_render([tok]) if tok is not None else 'nothing'}")
    if tok.kind == "word" and tok.upper in PG_RESERVED:
        raise NotPortableError(f"{what} name {tok.text!r} is reserved in PostgreSQL; choose another name")
    return tok.text.strip('"').lower() if tok.kind == "qident" else tok.text.lower()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fn_name(prefix: str, name: str) -> str:
    return _ident(f"consentry_{prefix}_{name}"[:63])


def _expr(items: list) -> str:
    return _render(_translate_items(items, _QueryContext(params=False)))


def _take_if_not_exists(items: list, i: int) -> tuple[bool, int]:
    if [_word(t) for t in items[i:i + 3]] == ["IF", "NOT", "EXISTS"]:
        return True, i + 3
    return False, i


def _translate_default(items: list, i: int, col_type: str) -> tuple[str, int]:
    """DEFAULT value at items[i]; returns (text, next index)."""
    it = items[i] if i < len(items) else None
    if isinstance(it, Group):
        return "(" + _expr(list(it)) + ")", i + 1
    if isinstance(it, Tok) and it.kind == "op" and it.text in "+-" and i + 1 < len(items) and items[i + 1].kind == "num":
        return it.text + items[i + 1].text, i + 2
    if isinstance(it, Tok) and it.kind in ("num", "str"):
        return it.text, i + 1
    if isinstance(it, Tok) and it.kind == "blob":
        return "'\\x" + it.text[2:-1] + "'::bytea", i + 1
    u = _word(it)
    if u == "NULL":
        return "NULL", i + 1
    if u in ("TRUE", "FALSE"):
        return ("1" if u == "TRUE" else "0") if col_type == "INTEGER" else u, i + 1
    if u in _NOW_TEXT:
        return "(" + _NOW_TEXT[u] + ")", i + 1
    raise NotPortableError(f"DEFAULT {_render([it]) if it is not None else ''} is not portable")


_COLUMN_CONSTRAINT_START = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
                            "REFERENCES", "GENERATED", "AS"}


def _translate_column(items: list, table: _Table) -> tuple[str, str, str, bool]:
    """A column definition; returns (name, portable type, PostgreSQL text, is INTEGER PRIMARY KEY)."""
    if not items:
        raise NotPortableError("empty column definition")
    name = _name(items[0], "column")
    i = 1
    type_words = []
    while i < len(items) and isinstance(items[i], Tok) and items[i].kind == "word" and _word(items[i]) not in _COLUMN_CONSTRAINT_START:
        type_words.append(items[i].upper)
        i += 1
    if i < len(items) and isinstance(items[i], Group):
        raise NotPortableError(f"column {name}: sized types are not portable; use TEXT, INTEGER, REAL or BLOB")
    col_type = " ".join(type_words)
    if col_type not in _TYPES:
        raise NotPortableError(f"column {name}: type {col_type or '(none)'} is not portable; use TEXT, INTEGER, REAL or BLOB")
    # SQLite compares and sorts text byte by byte (its BINARY collation); so does PostgreSQL's "C" collation,
    # whatever the database's locale (and its ILIKE then folds ASCII letters only, like SQLite's LIKE).
    parts = [_ident(name), _TYPES[col_type] + (' COLLATE "C"' if col_type == "TEXT" else "")]
    integer_pk = False
    while i < len(items):
        it = items[i]
        u = _word(it)
        if u == "PRIMARY" and _word(items[i + 1] if i + 1 < len(items) else None) == "KEY":
            parts.append("PRIMARY KEY")
            i += 2
            if _word(items[i] if i < len(items) else None) in ("ASC", "DESC"):
                i += 1
            if _word(items[i] if i < len(items) else None) == "AUTOINCREMENT":
                raise NotPortableError(f"column {name}: AUTOINCREMENT is not portable; INTEGER PRIMARY KEY numbers rows already")
            integer_pk = col_type == "INTEGER"
        elif u == "CHECK" and i + 1 < len(items) and isinstance(items[i + 1], Group):
            parts.append("CHECK (" + _expr(list(items[i + 1])) + ")")
            i += 2
        elif u == "DEFAULT":
            text, i = _translate_default(items, i + 1, col_type)
            parts.append("DEFAULT " + text)
        elif u == "COLLATE":
            coll = _word(items[i + 1] if i + 1 < len(items) else None)
            if coll != "BINARY":
                raise NotPortableError(f"column {name}: COLLATE {coll or ''} is not portable")
            i += 2
        elif u in ("GENERATED", "AS"):
            raise NotPortableError(f"column {name}: generated columns are not portable")
        elif u == "ON" and _word(items[i + 1] if i + 1 < len(items) else None) == "CONFLICT":
            raise NotPortableError(f"column {name}: ON CONFLICT clauses in a table definition are not portable")
        elif u == "REFERENCES":
            j = i + 1
            ref = _name(items[j] if j < len(items) else None, "table")
            j += 1
            text = "REFERENCES " + _ident(ref)
            if j < len(items) and isinstance(items[j], Group):
                text += " (" + ", ".join(_ident(_name(c[0], "column")) for c in _split_commas(list(items[j]))) + ")"
                j += 1
            prev = ""
            while j < len(items):
                w = _word(items[j])
                nxt_w = _word(items[j + 1] if j + 1 < len(items) else None)
                if prev != "SET" and (w in _COLUMN_CONSTRAINT_START - {"NOT"} or (w == "NOT" and nxt_w == "NULL")):
                    break
                text += " " + _render([items[j]])
                prev = w
                j += 1
            parts.append(text)
            i = j
        elif isinstance(it, Tok) and it.kind in ("word", "qident", "op", "num", "str"):
            parts.append(_render([it]))
            i += 1
        else:
            parts.append("(" + _expr(list(it)) + ")")
            i += 1
    return name, col_type, " ".join(parts), integer_pk


def _translate_create_table(items: list, catalog: _Catalog) -> list[str]:
    i = 2
    if_not_exists, i = _take_if_not_exists(items, i)
    table = _name(items[i] if i < len(items) else None, "table")
    i += 1
    if i >= len(items) or not isinstance(items[i], Group):
        raise NotPortableError(f"CREATE TABLE {table}: only column definitions are portable (no AS SELECT)")
    if i + 1 < len(items):
        raise NotPortableError(f"CREATE TABLE {table}: {_render(items[i + 1:])} is not portable")
    info = _Table()
    lines: list[str] = []
    integer_pks: list[str] = []
    for part in _split_commas(list(items[i])):
        first = _word(part[0]) if part else ""
        if first in ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
            lines.append(_translate_table_constraint(part, info, integer_pks, table))
        else:
            name, col_type, text, integer_pk = _translate_column(part, info)
            info.columns[name] = col_type
            lines.append(text)
            if integer_pk:
                integer_pks.append(name)
    if len(integer_pks) > 1:
        raise NotPortableError(f"CREATE TABLE {table}: more than one primary key")
    info.autonumber = integer_pks[0] if integer_pks else None
    statements = []
    if "rowid" not in info.columns:
        if info.autonumber:
            lines.append(f"rowid BIGINT GENERATED ALWAYS AS ({_ident(info.autonumber)}) STORED")
        else:
            lines.append("rowid BIGINT GENERATED ALWAYS AS IDENTITY")
    statements.append(f"CREATE TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{_ident(table)} (\n    "
                      + ",\n    ".join(lines) + "\n)")
    if info.autonumber:
        statements.extend(_autonumber(table, info.autonumber))
    catalog.tables[table] = info
    return statements


def _translate_table_constraint(part: list, info: _Table, integer_pks: list[str], table: str) -> str:
    text = []
    i = 0
    if _word(part[0]) == "CONSTRAINT":
        text.append("CONSTRAINT " + _ident(_name(part[1] if len(part) > 1 else None, "constraint")))
        i = 2
    u = _word(part[i] if i < len(part) else None)
    if u in ("PRIMARY", "UNIQUE"):
        j = i + (2 if u == "PRIMARY" else 1)
        if j >= len(part) or not isinstance(part[j], Group):
            raise NotPortableError(f"CREATE TABLE {table}: {u} needs a column list")
        cols = [_name(c[0], "column") for c in _split_commas(list(part[j]))]
        for c in _split_commas(list(part[j])):
            if len(c) > 1 and not (len(c) == 2 and _word(c[1]) in ("ASC", "DESC")):
                raise NotPortableError(f"CREATE TABLE {table}: only plain columns in {u} constraints are portable")
        if j + 1 < len(part):
            raise NotPortableError(f"CREATE TABLE {table}: {_render(part[j + 1:])} after {u} is not portable")
        if u == "PRIMARY" and len(cols) == 1 and info.columns.get(cols[0]) == "INTEGER":
            integer_pks.append(cols[0])
        text.append(("PRIMARY KEY" if u == "PRIMARY" else "UNIQUE") + " (" + ", ".join(_ident(c) for c in cols) + ")")
    elif u == "CHECK":
        text.append("CHECK (" + _expr(list(part[i + 1])) + ")")
        if i + 2 < len(part):
            raise NotPortableError(f"CREATE TABLE {table}: {_render(part[i + 2:])} after CHECK is not portable")
    elif u == "FOREIGN":
        if _word(part[i + 1] if i + 1 < len(part) else None) != "KEY" or not isinstance(part[i + 2], Group):
            raise NotPortableError(f"CREATE TABLE {table}: FOREIGN KEY needs a column list")
        cols = [_name(c[0], "column") for c in _split_commas(list(part[i + 2]))]
        j = i + 3
        if _word(part[j] if j < len(part) else None) != "REFERENCES":
            raise NotPortableError(f"CREATE TABLE {table}: FOREIGN KEY without REFERENCES")
        ref = _name(part[j + 1] if j + 1 < len(part) else None, "table")
        j += 2
        ref_text = _ident(ref)
        if j < len(part) and isinstance(part[j], Group):
            ref_text += " (" + ", ".join(_ident(_name(c[0], "column")) for c in _split_commas(list(part[j]))) + ")"
            j += 1
        rest = _render(part[j:])
        text.append(f"FOREIGN KEY ({', '.join(_ident(c) for c in cols)}) REFERENCES {ref_text}" + (" " + rest if rest else ""))
    else:
        raise NotPortableError(f"CREATE TABLE {table}: constraint {_render(part)} is not portable")
    return " ".join(text)


def _autonumber(table: str, column: str) -> list[str]:
    """SQLite's numbering of an INTEGER PRIMARY KEY left out of an INSERT: the largest so far + 1."""
    fn = _fn_name("autonumber", table)
    col, tbl = _ident(column), _ident(table)
    return [
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $consentry$\n"
        f"BEGIN\n"
        f"    IF NEW.{col} IS NULL THEN\n"
        f"        SELECT COALESCE(MAX({col}), 0) + 1 INTO NEW.{col} FROM {tbl};\n"
        f"    END IF;\n"
        f"    RETURN NEW;\n"
        f"END\n$consentry$",
        f"CREATE TRIGGER {_ident(('consentry_autonumber_' + table)[:63])} BEFORE INSERT ON {tbl} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
    ]


def _translate_index(items: list) -> list[str]:
    i = 1
    unique = _word(items[i]) == "UNIQUE"
    i += 2 if unique else 1  # past INDEX
    if_not_exists, i = _take_if_not_exists(items, i)
    name = _name(items[i] if i < len(items) else None, "index")
    if _word(items[i + 1] if i + 1 < len(items) else None) != "ON":
        raise NotPortableError(f"CREATE INDEX {name}: expected ON table")
    table = _name(items[i + 2] if i + 2 < len(items) else None, "table")
    cols = items[i + 3] if i + 3 < len(items) else None
    if not isinstance(cols, Group):
        raise NotPortableError(f"CREATE INDEX {name}: expected a column list")
    col_parts = []
    for c in _split_commas(list(cols)):
        words = [_word(t) for t in c]
        direction = words[-1] if words and words[-1] in ("ASC", "DESC") else ""
        core = c[:-1] if direction else c
        if len(core) == 1 and isinstance(core[0], Tok) and core[0].kind in ("word", "qident"):
            text = _ident(_name(core[0], "column"))
        else:
            text = "(" + _expr(core) + ")"
        col_parts.append(text + (" " + direction if direction else ""))
    text = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {'IF NOT EXISTS ' if if_not_exists else ''}{_ident(name)} "
            f"ON {_ident(table)} ({', '.join(col_parts)})")
    rest = items[i + 4:]
    if rest:
        if _word(rest[0]) != "WHERE":
            raise NotPortableError(f"CREATE INDEX {name}: {_render(rest)} is not portable")
        text += " WHERE " + _expr(rest[1:])
    return [text]


def _translate_trigger(items: list, catalog: _Catalog) -> list[str]:
    i = 1
    if _word(items[i]) in ("TEMP", "TEMPORARY"):
        raise NotPortableError("temporary triggers are not portable")
    i += 1  # TRIGGER
    if_not_exists, i = _take_if_not_exists(items, i)
    name = _name(items[i] if i < len(items) else None, "trigger")
    i += 1
    timing = _word(items[i] if i < len(items) else None)
    if timing not in ("BEFORE", "AFTER"):
        raise NotPortableError(f"trigger {name}: only BEFORE and AFTER triggers are portable")
    i += 1
    event = _word(items[i] if i < len(items) else None)
    if event not in ("INSERT", "UPDATE", "DELETE"):
        raise NotPortableError(f"trigger {name}: expected INSERT, UPDATE or DELETE")
    i += 1
    event_text = event
    if event == "UPDATE" and _word(items[i]) == "OF":
        cols = []
        i += 1
        while True:
            cols.append(_ident(_name(items[i], "column")))
            i += 1
            if i < len(items) and _is_op(items[i], ","):
                i += 1
                continue
            break
        event_text += " OF " + ", ".join(cols)
    if _word(items[i] if i < len(items) else None) != "ON":
        raise NotPortableError(f"trigger {name}: expected ON table")
    table = _name(items[i + 1] if i + 1 < len(items) else None, "table")
    i += 2
    if [_word(t) for t in items[i:i + 3]] == ["FOR", "EACH", "ROW"]:
        i += 3
    when = ""
    if _word(items[i] if i < len(items) else None) == "WHEN":
        j = i + 1
        while j < len(items) and _word(items[j]) != "BEGIN":
            j += 1
        when = " WHEN (" + _expr(items[i + 1:j]) + ")"
        i = j
    if _word(items[i] if i < len(items) else None) != "BEGIN" or _word(items[-1]) != "END":
        raise NotPortableError(f"trigger {name}: expected BEGIN ... END")
    body = items[i + 1:-1]
    while body and _is_op(body[-1], ";"):
        body = body[:-1]
    shape = [_word(t) for t in body[:2]]
    if shape != ["SELECT", "RAISE"] or len(body) < 3 or not isinstance(body[2], Group):
        raise NotPortableError(f"trigger {name}: the only portable body is SELECT RAISE(ABORT, 'message') [WHERE ...];")
    args = _split_commas(list(body[2]))
    if (len(args) != 2 or len(args[0]) != 1 or _word(args[0][0]) not in ("ABORT", "FAIL", "ROLLBACK")
            or len(args[1]) != 1 or args[1][0].kind != "str"):
        raise NotPortableError(f"trigger {name}: RAISE needs (ABORT, 'message')")
    message = args[1][0].text
    condition = ""
    rest = body[3:]
    if rest:
        if _word(rest[0]) != "WHERE" or any(_is_op(t, ";") for t in rest):
            raise NotPortableError(f"trigger {name}: the only portable body is SELECT RAISE(ABORT, 'message') [WHERE ...];")
        condition = _expr(rest[1:])
    raise_stmt = f"RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = {message};"
    if condition:
        raise_stmt = f"IF ({condition}) THEN\n        {raise_stmt}\n    END IF;"
    fn = _fn_name("trigger", name)
    if "$consentry$" in message or "$consentry$" in condition:
        raise NotPortableError(f"trigger {name}: the text $consentry$ is reserved")
    catalog.triggers[name] = table
    create = "CREATE OR REPLACE TRIGGER" if if_not_exists else "CREATE TRIGGER"
    return [
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $consentry$\n"
        f"BEGIN\n"
        f"    {raise_stmt}\n"
        f"    IF TG_OP = 'DELETE' THEN\n        RETURN OLD;\n    END IF;\n"
        f"    RETURN NEW;\n"
        f"END\n$consentry$",
        f"{create} {_ident(name)} {timing} {event_text} ON {_ident(table)} FOR EACH ROW{when} EXECUTE FUNCTION {fn}()",
    ]


def _translate_alter(items: list, catalog: _Catalog) -> list[str]:
    table = _name(items[2] if len(items) > 2 else None, "table")
    info = catalog.tables.get(table)
    action = [_word(t) for t in items[3:5]]
    if action and action[0] == "ADD":
        i = 4 + (1 if action[1:] == ["COLUMN"] else 0)
        name, col_type, text, integer_pk = _translate_column(items[i:], info or _Table())
        if integer_pk:
            raise NotPortableError(f"ALTER TABLE {table}: a PRIMARY KEY cannot be added")
        if info is not None:
            info.columns[name] = col_type
        return [f"ALTER TABLE {_ident(table)} ADD COLUMN {text}"]
    if action[:2] == ["RENAME", "TO"]:
        new = _name(items[5] if len(items) > 5 else None, "table")
        if info is not None:
            catalog.tables[new] = catalog.tables.pop(table)
            for trig, t in catalog.triggers.items():
                if t == table:
                    catalog.triggers[trig] = new
        return [f"ALTER TABLE {_ident(table)} RENAME TO {_ident(new)}"]
    if action and action[0] == "RENAME":
        i = 4 + (1 if action[1:] == ["COLUMN"] else 0)
        old = _name(items[i] if i < len(items) else None, "column")
        if _word(items[i + 1] if i + 1 < len(items) else None) != "TO":
            raise NotPortableError(f"ALTER TABLE {table}: expected RENAME COLUMN a TO b")
        new = _name(items[i + 2] if i + 2 < len(items) else None, "column")
        if info is not None and old in info.columns:
            info.columns[new] = info.columns.pop(old)
        return [f"ALTER TABLE {_ident(table)} RENAME COLUMN {_ident(old)} TO {_ident(new)}"]
    if action and action[0] == "DROP":
        i = 4 + (1 if action[1:] == ["COLUMN"] else 0)
        col = _name(items[i] if i < len(items) else None, "column")
        if info is not None:
            info.columns.pop(col, None)
        return [f"ALTER TABLE {_ident(table)} DROP COLUMN {_ident(col)}"]
    raise NotPortableError(f"ALTER TABLE {table}: only ADD COLUMN, RENAME and DROP COLUMN are portable")


def _translate_drop(items: list, catalog: _Catalog) -> list[str]:
    what = _word(items[1] if len(items) > 1 else None)
    i = 2
    if_exists = [_word(t) for t in items[i:i + 2]] == ["IF", "EXISTS"]
    if if_exists:
        i += 2
    name = _name(items[i] if i < len(items) else None, what.lower() or "object")
    if i + 1 < len(items):
        raise NotPortableError(f"DROP {what} {name}: {_render(items[i + 1:])} is not portable")
    ie = "IF EXISTS " if if_exists else ""
    if what == "INDEX":
        return [f"DROP INDEX {ie}{_ident(name)}"]
    if what == "TABLE":
        out = [f"DROP TABLE {ie}{_ident(name)}"]
        info = catalog.tables.pop(name, None)
        if info is not None and info.autonumber:
            out.append(f"DROP FUNCTION IF EXISTS {_fn_name('autonumber', name)}()")
        for trig in [t for t, tbl in catalog.triggers.items() if tbl == name]:
            del catalog.triggers[trig]
            out.append(f"DROP FUNCTION IF EXISTS {_fn_name('trigger', trig)}()")
        return out
    if what == "TRIGGER":
        table = catalog.triggers.pop(name, None)
        if table is None:
            if if_exists:
                return []
            raise NotPortableError(f"DROP TRIGGER {name}: no such trigger in the earlier migrations")
        return [f"DROP TRIGGER {ie}{_ident(name)} ON {_ident(table)}",
                f"DROP FUNCTION IF EXISTS {_fn_name('trigger', name)}()"]
    raise NotPortableError(f"DROP {what} is not portable")


def translate_statement(tokens: list[Tok], catalog: _Catalog) -> list[str]:
    """PostgreSQL statements for one migration statement (updates ``catalog``)."""
    if not tokens:
        return []
    items = _tree(tokens)
    words = [_word(t) for t in items[:3]]
    if words[:2] == ["CREATE", "TABLE"]:
        return _translate_create_table(items, catalog)
    if words[:2] == ["CREATE", "INDEX"] or words[:3] == ["CREATE", "UNIQUE", "INDEX"]:
        return _translate_index(items)
    if words[0] == "CREATE" and "TRIGGER" in words[1:3]:
        return _translate_trigger(items, catalog)
    if words[:2] == ["ALTER", "TABLE"]:
        return _translate_alter(items, catalog)
    if words[0] == "DROP":
        return _translate_drop(items, catalog)
    if words[0] in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
        return [translate_query(_render(items), params=False)]
    raise NotPortableError(f"{' '.join(w for w in words if w) or _render(items[:3])} ... is not in the portable subset")


def translate_migrations(migrations: dict[int, str]) -> dict[int, list[str]]:
    """PostgreSQL statements of every migration, by schema version.

    The whole history is translated in order (a later statement such as
    ``DROP TRIGGER`` needs what the earlier ones created); apply the
    versions a database lacks.
    """
    catalog = _Catalog()
    out: dict[int, list[str]] = {}
    for version in sorted(migrations):
        statements: list[str] = []
        try:
            for tokens in split_statements(migrations[version]):
                statements.extend(translate_statement(tokens, catalog))
        except NotPortableError as exc:
            raise NotPortableError(f"schema version {version}: {exc}") from None
        out[version] = statements
    return out


def iter_statements(sql: str) -> Iterator[str]:
    """Each statement of a portable script as text (for reading; SQLite runs the script itself)."""
    for tokens in split_statements(sql):
        yield _render(tokens)

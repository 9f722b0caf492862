"""Creator statements: what one creator is owed, as HTML and CSV.

Pure renderers over the statement dict of docs/scan-format.md ("Creator
statement"). Money is shown with two decimals and its ISO 4217 code, and
amounts in different currencies are never added together: a statement has
one total per currency.

The totals printed are recomputed from the statement's lines (the lines are
the record); if the statement's own ``totals`` disagree with its lines by
more than rounding, rendering fails with :class:`ValueError` rather than
print a total nobody can re-check.

CSV text cells are made formula-safe the same way as in scan reports (a
leading ``'`` before ``=``, ``+``, ``-``, ``@``, tab, carriage return).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any, Mapping, TextIO

from consentry.reporting.format import DASH as _DASH, csv_safe, format_money, to_cents
from consentry.reporting.templating import template_environment

__all__ = [
    "STATEMENT_CSV_COLUMNS",
    "render_statement_html",
    "statement_totals",
    "write_statement_csv",
]

#: Columns of :func:`write_statement_csv`. ``row`` is ``line`` for a
#: statement line and ``TOTAL`` for the total of one currency (one such row
#: per currency, after the lines, with only the creator, basis, currency and
#: amount filled in). ``price`` and ``amount`` have two decimals, in
#: ``currency``; ``entry_ids`` are separated by spaces; ``basis_*`` repeat the
#: statement's basis on every row, ``run`` and ``scan_id`` are the line's own.
STATEMENT_CSV_COLUMNS: tuple[str, ...] = (
    "row",
    "creator",
    "basis_kind",
    "basis_scan_id",
    "basis_run",
    "work_id",
    "title",
    "terms_version",
    "price",
    "currency",
    "uses",
    "items",
    "amount",
    "entry_ids",
    "recorded_at",
    "run",
    "scan_id",
)



def statement_totals(statement: Mapping[str, Any]) -> dict[str, Decimal]:
    """Amount owed per currency, summed from the statement's lines.

    Returns
    -------
    dict of str to Decimal
        Currency code -> total rounded to cents, ordered by currency code.
        Lines without an amount are skipped.

    Raises
    ------
    ValueError
        If a line has an amount but no currency, or the statement's
        ``totals`` disagree with its lines by more than rounding (half a cent
        per line).
    """
    creator = statement.get("creator")
    sums: dict[str, Decimal] = {}
    lines_per_currency: dict[str, int] = {}
    for i, line in enumerate(statement.get("lines") or ()):
        amount = line.get("amount")
        if amount is None:
            continue
        currency = line.get("currency")
        if not currency:
            if to_cents(amount) == 0:
                continue
            raise ValueError(
                f"statement for {creator!r}: line {i + 1} ({line.get('title')!r}) has amount {amount!r} "
                "but no currency; regenerate the statement"
            )
        currency = str(currency).upper()
        sums[currency] = sums.get(currency, Decimal(0)) + Decimal(str(amount))
        lines_per_currency[currency] = lines_per_currency.get(currency, 0) + 1
    totals = {c: to_cents(sums[c]) for c in sorted(sums)}

    stated = {str(c).upper(): v for c, v in (statement.get("totals") or {}).items()}
    for currency in sorted(set(stated) | set(totals)):
        given = to_cents(stated.get(currency, 0))
        computed = totals.get(currency, Decimal("0.00"))
        tolerance = Decimal("0.005") * max(1, lines_per_currency.get(currency, 0))
        if currency in stated and abs(given - computed) > tolerance:
            raise ValueError(
                f"statement for {creator!r}: total {given} {currency} does not match its lines, "
                f"which add up to {computed} {currency}; regenerate the statement"
            )
    return totals


def render_statement_html(statement: dict) -> str:
    """One creator's statement as one self-contained HTML page.

    Parameters
    ----------
    statement : dict
        Creator statement (docs/scan-format.md, "Creator statement").

    Returns
    -------
    str
        HTML5 text with inline CSS only: no scripts, no external resources.
    """
    totals = statement_totals(statement)
    basis = statement.get("basis") or {}
    lines = []
    for line in statement.get("lines") or ():
        currency = line.get("currency")
        lines.append(
            {
                "work_id": _text(line.get("work_id")),
                "title": _text(line.get("title")),
                "terms_version": _text(line.get("terms_version")),
                "price": format_money(line.get("price"), currency),
                "uses": _text(line.get("uses")),
                "n_items": _text(line.get("items")),
                "amount": format_money(line.get("amount"), currency),
                "entry_ids": ", ".join(str(e) for e in line.get("entry_ids") or ()) or _DASH,
                "recorded_at": _text(line.get("recorded_at")),
                "run": _text(line.get("run")),
                "scan_id": _text(line.get("scan_id")),
            }
        )
    context = {
        "page_title": f"Statement for {_text(statement.get('creator'))}",
        "creator": _text(statement.get("creator")),
        "generated_at": _text(statement.get("generated_at")),
        "basis": {
            "kind": _text(basis.get("kind")),
            "scan_id": basis.get("scan_id"),
            "run": basis.get("run"),
        },
        "lines": lines,
        "totals": [(c, format_money(a, c)) for c, a in totals.items()],
    }
    return template_environment().get_template("statement.html.j2").render(**context)


def write_statement_csv(statement: dict, fh: TextIO) -> None:
    """Write the statement as CSV with the header :data:`STATEMENT_CSV_COLUMNS`.

    One row per line, then one ``TOTAL`` row per currency (by currency code).
    Open ``fh`` with ``newline=""``.
    """
    totals = statement_totals(statement)
    basis = statement.get("basis") or {}
    creator = statement.get("creator")
    head = {
        "creator": creator,
        "basis_kind": basis.get("kind"),
        "basis_scan_id": basis.get("scan_id"),
        "basis_run": basis.get("run"),
    }
    writer = csv.writer(fh)
    writer.writerow(STATEMENT_CSV_COLUMNS)
    for line in statement.get("lines") or ():
        row = dict(head)
        row.update(
            row="line",
            work_id=line.get("work_id"),
            title=line.get("title"),
            terms_version=line.get("terms_version"),
            price=_cents(line.get("price")),
            currency=line.get("currency"),
            uses=line.get("uses"),
            items=line.get("items"),
            amount=_cents(line.get("amount")),
            entry_ids=" ".join(str(e) for e in line.get("entry_ids") or ()),
            recorded_at=line.get("recorded_at"),
            run=line.get("run"),
            scan_id=line.get("scan_id"),
        )
        writer.writerow([csv_safe(row.get(c)) for c in STATEMENT_CSV_COLUMNS])
    for currency, amount in totals.items():
        row = dict(head, row="TOTAL", currency=currency, amount=amount)
        writer.writerow([csv_safe(row.get(c)) for c in STATEMENT_CSV_COLUMNS])


def _cents(amount: Any) -> Decimal | None:
    return None if amount is None else to_cents(amount)


def _text(value: Any) -> str:
    return _DASH if value is None or value == "" else str(value)

"""Money: one rounding rule for every amount Consentry computes, sums or shows.

To cents, half up, in decimal (so ``2.675`` is ``2.68``, where binary floats
would give ``2.67``). Scans, the training filter, the ledger, statements and
every report use these (:mod:`consentry.reporting.format` shows them).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

__all__ = ["CENT", "add_money", "money", "sum_money", "to_cents"]

CENT = Decimal("0.01")


def to_cents(amount: Any) -> Decimal:
    """An amount of money as a :class:`~decimal.Decimal` rounded half up to two decimals."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"amount {amount!r} is not a number") from exc
    if not value.is_finite():
        raise ValueError(f"amount {amount!r} is not a finite number")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Any) -> float:
    """An amount rounded half up to cents, as a float (``money(0.1 * 3)`` is ``0.3``)."""
    return float(to_cents(amount))


def sum_money(parts: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Amounts per currency code, summed in decimal and rounded half up to cents (codes sorted)."""
    out: dict[str, Decimal] = {}
    for part in parts:
        for currency, amount in part.items():
            out[currency] = out.get(currency, Decimal(0)) + Decimal(str(amount))
    return {c: float(a.quantize(CENT, rounding=ROUND_HALF_UP)) for c, a in sorted(out.items())}


def add_money(total: Any, amount: Any) -> float:
    """``total + amount`` in decimal, rounded half up to cents."""
    return float(to_cents(Decimal(str(total)) + Decimal(str(amount))))

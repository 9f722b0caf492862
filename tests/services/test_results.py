"""The services' results have the shapes services/results.py declares, and the API's models declare those keys.

Each check runs the real service on a real registry (SQLite file, a scan of a folder, the ledger) and
compares the result with its TypedDict key by key, nested shapes included: no declared key missing
(``NotRequired`` ones aside), no undeclared key, and the value of each key of the declared kind.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.adapters.api import models
from consentry.domain.works import Terms
from consentry.services import accounting, accounts, results
from consentry.services.scan import scan_dataset, scan_summary

SR = 22050

_SCALARS = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


def conform(value, shape, where: str = "result") -> list[str]:
    """Where ``value`` departs from ``shape`` (a TypedDict, a typing form or a plain type)."""
    origin = typing.get_origin(shape)
    if shape is typing.Any:
        return []
    if typing.is_typeddict(shape):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a dict"]
        hints = typing.get_type_hints(shape)
        problems = [f"{where}.{k}: missing" for k in shape.__required_keys__ if k not in value]
        problems += [f"{where}.{k}: not declared in {shape.__name__}" for k in value if k not in hints]
        for k, v in value.items():
            if k in hints:
                problems += conform(v, hints[k], f"{where}.{k}")
        return problems
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(shape)
        if any(not conform(value, option, where) for option in options):
            return []
        return [f"{where}: {value!r:.60} is none of {options}"]
    if origin is typing.Literal:
        return [] if value in typing.get_args(shape) else [f"{where}: {value!r} not in {typing.get_args(shape)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        (item,) = typing.get_args(shape)
        return [p for i, v in enumerate(value) for p in conform(v, item, f"{where}[{i}]")]
    if origin is tuple:
        args = typing.get_args(shape)
        if not isinstance(value, tuple) or len(value) != len(args):
            return [f"{where}: not a tuple of {len(args)}"]
        return [p for i, (v, a) in enumerate(zip(value, args)) for p in conform(v, a, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a dict"]
        key_type, value_type = typing.get_args(shape)
        return [p for k, v in value.items() for p in conform(k, key_type, f"{where} key") + conform(v, value_type, f"{where}[{k!r}]")]
    if shape is type(None):
        return [] if value is None else [f"{where}: {value!r:.60} is not None"]
    if shape in _SCALARS:
        ok = isinstance(value, _SCALARS[shape]) and not (shape is not bool and isinstance(value, bool))
        return [] if ok else [f"{where}: {value!r:.60} is not {shape.__name__}"]
    raise AssertionError(f"{where}: the checker does not know {shape!r}")


def test_the_checker_finds_departures():
    """The checker is not vacuous: a missing key, an extra key and a wrong type are each reported."""
    good = {"entries": 2, "head": "2:ab", "ok": True, "problems": []}
    assert conform(good, results.LedgerCheck) == []
    assert conform({**good, "extra": 1}, results.LedgerCheck) == ["result.extra: not declared in LedgerCheck"]
    assert conform({k: v for k, v in good.items() if k != "ok"}, results.LedgerCheck) == ["result.ok: missing"]
    assert conform({**good, "entries": "2"}, results.LedgerCheck) == ["result.entries: '2' is not int"]
    assert conform({**good, "problems": [3]}, results.LedgerCheck) == ["result.problems[0]: 3 is not str"]


@pytest.fixture(scope="module")
def ledgered(tmp_path_factory):
    """A registry with a denied, a licensed (EUR) and an allowed work, a scan of copies, and a recorded use."""
    root = tmp_path_factory.mktemp("results")
    signals = {name: notes(seed, duration_s=20.0, sr=SR) for name, seed in (("denied", 31), ("licensed", 32), ("allowed", 33))}
    reg_path = root / "r.db"
    data = root / "data"
    data.mkdir()
    with Registry.open(reg_path) as reg:
        for name, terms in (("denied", Terms("deny")), ("licensed", Terms("license", 80, "EUR")), ("allowed", Terms("allow"))):
            f = write_wav(root / f"{name}.wav", signals[name], sample_rate_hz=SR)
            assert reg.register([f], creator="Ana Lima", terms=terms, workers=1).registered
            write_wav(data / f"{name}_copy.wav", signals[name][4 * SR:14 * SR], sample_rate_hz=SR)
        (data / "broken.wav").write_bytes(b"RIFF....WAVE")
        scan = scan_dataset(reg, data, workers=1)
        entries = accounting.record_use(reg, run="model-v1", scan_id=scan["scan_id"], used_on="2026-11-01")
    return reg_path, scan["scan_id"], entries


def test_scan_summary_has_its_declared_shape(ledgered):
    reg_path, scan_id, _ = ledgered
    with Registry.open(reg_path) as reg:
        summary = scan_summary(reg, scan_id)
    assert conform(summary, results.ScanSummary) == []
    decisions = {w["title"]: w["decision"] for w in summary["works"]}
    assert decisions == {"denied": "deny", "licensed": "license", "allowed": "allow"}  # the scan found all three
    assert summary["errors"], "the broken file is an error item"


def test_ledger_results_have_their_declared_shapes(ledgered):
    reg_path, scan_id, entries = ledgered
    assert len(entries) == 1 and conform(entries, list[results.LedgerEntry]) == []
    with Registry.open(reg_path) as reg:
        assert conform(accounting.ledger_entries(reg), list[results.LedgerEntry]) == []
        for statements in (accounting.scan_statements(reg, scan_id), accounting.ledger_statements(reg, run="model-v1")):
            assert [s["totals"] for s in statements] == [{"EUR": 80.0}]
            assert conform(statements, list[results.Statement]) == []
        check = accounting.verify_ledger(reg)
        assert check["ok"] and conform(check, results.LedgerCheck) == []


def test_account_and_token_views_have_their_declared_shapes(tmp_path: Path):
    with Registry.open(tmp_path / "r.db") as reg:
        account = accounts.create_account(reg.store, email="ana@example.org", password="a long passphrase 42",
                                          role="creator", creator="Ana Lima")
        assert conform(account, results.AccountView) == []
        made = accounts.create_token(reg.store, account=account, name="ci", scopes=["works:read"])
        assert conform(made, tuple[results.TokenView, str]) == []
        assert conform(accounts.revoke_token(reg.store, made[0]["token_id"]), results.TokenView) == []
        assert conform(accounts.disable_account(reg.store, account["email"]), results.AccountView) == []


@pytest.mark.parametrize("shape, model", [
    (results.AccountView, models.AccountOut),
    (results.TokenView, models.TokenOut),
    (results.LedgerEntry, models.LedgerEntryOut),
    (results.Statement, models.StatementOut),
    (results.StatementLine, models.StatementLineOut),
    (results.StatementBasis, models.StatementBasisOut),
], ids=lambda x: x.__name__)
def test_the_api_models_declare_every_key_the_services_return(shape, model):
    """An API response model that lacks a key of the service's result would drop it from the response silently."""
    missing = sorted(set(typing.get_type_hints(shape)) - set(model.model_fields))
    assert missing == [], f"{model.__name__} lacks {missing}"

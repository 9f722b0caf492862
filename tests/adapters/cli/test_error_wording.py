"""Domain errors are neutral (a field, no CLI flag); each adapter words them: the CLI with its flags, the API with
its field names, the web in words (issue 16)."""

from __future__ import annotations

import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from consentry.domain.errors import FieldError, InputError
from consentry.domain.works import Terms, parse_date
from consentry.domain.usage import TermsVersion, UseTerms

BAD = [  # (terms, field at fault, CLI wording, API wording)
    ({"decision": "license"}, "price", "--terms license needs --price, a number >= 0",
     "decision license needs price, a number >= 0"),
    ({"decision": "maybe"}, "decision", "--terms 'maybe': must be one of deny, allow, license",
     "decision 'maybe': must be one of deny, allow, license"),
    ({"decision": "license", "price": 1, "currency": "EURO"}, "currency", "--currency 'EURO': give a three-letter",
     "currency 'EURO': give a three-letter"),
    ({"decision": "allow", "licence_url": "ftp://x"}, "licence_url", "--licence-url 'ftp://x'", "licence_url 'ftp://x'"),
]


@pytest.mark.parametrize("terms, field, cli, api", BAD)
def test_domain_errors_name_the_field_and_no_flag(terms, field, cli, api):
    from consentry.adapters.cli.wording import cli_message

    with pytest.raises(FieldError) as info:
        UseTerms(**terms)
    exc = info.value
    assert isinstance(exc, InputError) and exc.field == field
    assert "--" not in str(exc)
    assert cli_message(exc).startswith(cli)
    assert exc.worded(str).startswith(api)


def test_every_domain_terms_error_is_neutral():
    cases = [lambda: Terms("license"), lambda: Terms("deny", price=3), lambda: Terms("sell"),
             lambda: UseTerms("deny", price=3), lambda: UseTerms("license", 1, "EUR", "per-year"),
             lambda: TermsVersion(valid_from="May 1st"), lambda: TermsVersion(uses={"x{0}": UseTerms()}),
             lambda: TermsVersion(valid_from="2026-05-01", valid_until="2026-01-01"),
             lambda: TermsVersion(jurisdiction=" "), lambda: parse_date("soon", field="used_on")]
    for make in cases:
        with pytest.raises(FieldError) as info:
            make()
        assert "--" not in str(info.value) and "{" not in str(info.value).replace("x{0}", ""), str(info.value)


def test_cli_says_the_flag(tmp_path, monkeypatch, capsys):
    from consentry.adapters.cli.main import main

    monkeypatch.setattr(sys, "argv", ["consentry", "--registry", str(tmp_path / "r.db"), "terms", "set", "abc",
                                      "--terms", "license", "--currency", "EUR"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "error: --terms license needs --price, a number >= 0" in err, err


def _raising_app(make) -> FastAPI:
    from consentry.adapters.api.app import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.put("/terms")
    def put_terms():
        make()

    return app


def test_api_says_the_field():
    r = TestClient(_raising_app(lambda: UseTerms(decision="license", currency="EUR"))).put("/terms")
    assert r.status_code == 400
    assert r.json() == {"detail": "decision license needs price, a number >= 0"}
    r = TestClient(_raising_app(lambda: TermsVersion(valid_until="2026-13-01"))).put("/terms")
    assert r.json() == {"detail": "valid_until '2026-13-01': give a date as YYYY-MM-DD"}


def test_web_says_words_without_a_flag():
    from consentry.adapters.web.render import error_response

    try:
        TermsVersion(valid_until="2026-13-01")
    except FieldError as exc:
        error = exc
    for accept in ("text/html", "application/json"):
        request = Request({"type": "http", "method": "POST", "path": "/app/terms", "query_string": b"",
                           "headers": [(b"accept", accept.encode()), (b"host", b"testserver")],
                           "server": ("testserver", 80), "scheme": "http", "root_path": "", "state": {}})
        response = error_response(request, error)
        body = response.body.decode()
        assert response.status_code == 400
        assert "valid until &#39;2026-13-01&#39;: give a date" in body or "valid until '2026-13-01': give a date" in body
        assert "--valid" not in body and "valid_until" not in body


def test_cli_flags_for_fields():
    from consentry.adapters.cli.wording import flag

    assert [flag(f) for f in ("price", "licence_url", "valid_until", "decision", "uses", "used_on", "first_published_on")] \
        == ["--price", "--licence-url", "--valid-until", "--terms", "--use", "--date", "--published"]
    from consentry.services.accounting import record_use

    with pytest.raises(FieldError) as info:
        record_use(None, run=" ")
    assert info.value.field == "run" and str(info.value).startswith("run: name the training run")
    from consentry.adapters.cli.wording import cli_message

    assert cli_message(info.value).startswith("--run: name the training run")


def test_registration_dates_are_field_errors_the_cli_words_with_its_flags(tmp_path):
    from consentry import Registry
    from consentry.adapters.cli.wording import cli_message

    with Registry.open(tmp_path / "r.db") as reg:
        for kwargs, field, flag in (({"first_published_on": "2026-02-30"}, "first_published_on", "--published"),
                                    ({"copyright_registered_on": "soon"}, "copyright_registered_on",
                                     "--copyright-registered")):
            with pytest.raises(FieldError) as info:
                reg.register([tmp_path / "none.wav"], **kwargs)
            assert info.value.field == field and "--" not in str(info.value)
            assert cli_message(info.value).startswith(flag + " ")


def test_register_errors_name_fields_and_the_cli_words_them_as_flags(tmp_path, monkeypatch, capsys):
    from consentry import Registry
    from consentry.adapters.cli.main import main

    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"RIFF")
    b.write_bytes(b"RIFF")
    with Registry.open(tmp_path / "r.db") as reg:
        with pytest.raises(FieldError) as info:
            reg.register([a, b], title="One Title")
        assert info.value.field == "title" and "--" not in str(info.value)
        assert str(info.value).startswith("title names one work, but 2 files were given")
        with pytest.raises(FieldError) as info:
            reg.register([a], creator=" ")
        assert info.value.field == "creator" and str(info.value) == "creator ' ': give a name of 1 to 256 characters"
    monkeypatch.setattr(sys, "argv", ["consentry", "--registry", str(tmp_path / "r.db"), "register", str(a), str(b),
                                      "--title", "One Title"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code != 0
    err = capsys.readouterr().err
    assert "--title names one work" in err and "leave --title out" in err

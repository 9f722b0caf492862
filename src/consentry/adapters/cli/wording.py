"""How the CLI words domain errors: a field is named by the flag that sets it.

Domain code raises neutral errors (:class:`consentry.domain.errors.FieldError` names
the field at fault, ``price``); the API names the field as its JSON body does
and the web in words, while the CLI says the flag (``--price``).
"""

from __future__ import annotations

from consentry.domain.errors import FieldError

#: Domain field -> the flag that sets it, where the flag is not ``--`` + the field with ``-`` for ``_``.
FLAGS: dict[str, str] = {
    "decision": "--terms",
    "uses": "--use",
    "used_on": "--date",
    "scan_id": "--scan",
    "work_ids": "--work",
    "states": "--state",
    "for_party": "--for",
    "copyright_registered_on": "--copyright-registered",
    "first_published_on": "--published",
}


def flag(field: str) -> str:
    """The CLI flag that sets domain field ``field`` (``valid_until`` -> ``--valid-until``)."""
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def cli_message(exc: BaseException) -> str:
    """The one line the CLI prints for ``exc``: a field error names its flags, others read as raised."""
    if isinstance(exc, FieldError):
        return exc.worded(flag)
    return str(exc)

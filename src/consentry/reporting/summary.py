"""Draft of the EU AI Act public summary of training content (Art. 53(1)(d)).

Providers of general-purpose AI models must publish "a sufficiently detailed
summary about the content used for training", following the template of the
AI Office (European Commission, *Explanatory Notice and Template for the
Public Summary of Training Content for general-purpose AI models*, July 2025).
This module drafts that summary in the template's own sections:

1. General information (provider, model, modalities and training data size)
2. List of data sources (2.1 public datasets ... 2.6 other sources)
3. Data processing aspects (3.1 respect of TDM rights reservations,
   3.2 removal of illegal content, 3.3 other information)

Two inputs fill it:

- **scans** (``docs/scan-format.md``): every scanned dataset becomes a data
  source (name, kind, items, hours of audio, bytes, scan id, dataset
  fingerprint, date), and section 3.1 says what the check against the consent
  registry found (refused, licensable, allowed, unidentified items, errors),
  per dataset and in total;
- **a declaration** (YAML written by the provider, ``docs/summary.md``):
  everything a scan cannot know (provider, model, other modalities, crawlers,
  user and synthetic data, which datasets are public or licensed, ...).

Whatever neither gives is kept as a field with ``value: None`` and
``status: "to complete"``, rendered as a visible "TO COMPLETE" marker: nothing
is left out and nothing is guessed.  The whole document is marked as a draft
that the provider must review before publishing.

>>> decl = load_declaration("summary-declaration.yaml")                 # doctest: +SKIP
>>> summary = build_summary([scan], decl, generated_at="2026-11-23T11:00:00+00:00")  # doctest: +SKIP
>>> html = render_summary(summary, fmt="html")                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .. import __version__
from ..domain.terms import ITEM_DECISIONS
from ..errors import InputError
from .format import format_money_codes_first as _fmt_money, sum_money as _sum_money

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMATS",
    "CATEGORIES",
    "SIZE_RANGES",
    "load_declaration",
    "validate_declaration",
    "build_summary",
    "render_summary",
]

#: Name and version of the summary dict (bump the version when its shape changes).
FORMAT_NAME = "consentry-training-content-summary"
FORMAT_VERSION = 1

#: Output formats of :func:`render_summary`.
FORMATS = ("md", "html", "json")

TITLE = "Public Summary of Training Content for general-purpose AI models"
LEGAL_BASIS = "Article 53(1)(d) of Regulation (EU) 2024/1689 (AI Act)"
TEMPLATE = {
    "title": "Template for the Public Summary of Training Content for general-purpose AI models",
    "reference": (
        "European Commission (AI Office), Explanatory Notice and Template for the Public Summary of "
        "Training Content for general-purpose AI models required by Article 53(1)(d) of Regulation "
        "(EU) 2024/1689 (AI Act), published 24 July 2025"
    ),
    "url": (
        "https://digital-strategy.ec.europa.eu/en/library/"
        "explanatory-notice-and-template-public-summary-training-content-general-purpose-ai-models"
    ),
}

# Field statuses: where a value came from, or why there is none.
DECLARED = "declared"  # from the provider's declaration
FROM_SCANS = "from scans"  # computed by Consentry from the scans
TO_COMPLETE = "to complete"  # required by the template, given by neither
NOT_APPLICABLE = "not applicable"  # the template's condition for it is not met
OPTIONAL = "optional"  # optional in the template and not given

MODALITIES = ("text", "image", "audio", "video", "other")
_MODALITY_LABELS = {"text": "Text", "image": "Image", "audio": "Audio", "video": "Video", "other": "Other"}

#: The template's training-data size ranges per modality (section 1.3).
SIZE_RANGES = {
    "text": ("Less than 1 billion tokens", "1 billion to 10 trillion tokens", "More than 10 trillion tokens"),
    "image": ("Less than 1 million images", "1 million to 1 billion images", "More than 1 billion images"),
    "audio": ("Less than 10 000 hours", "10 000 to 1 million hours", "More than 1 million hours"),
    "video": ("Less than 10 000 hours", "10 000 to 1 million hours", "More than 1 million hours"),
}

#: Source categories a declaration can give a scanned dataset, and the template section of each.
CATEGORIES = {
    "public_datasets": "2.1",
    "licensed_datasets": "2.2.1",
    "other_private_datasets": "2.2.2",
    "crawled_data": "2.3",
    "user_data": "2.4",
    "synthetic_data": "2.5",
    "other_sources": "2.6",
}

_TEMPLATES_DIR = Path(__file__).parent / "templates"

# ---------------------------------------------------------------------------
# The declaration: schema, loading, validation
# ---------------------------------------------------------------------------

_MODALITY_ENTRY = {"size_range": "text", "approximate_size": "text", "types_of_content": "text", "name": "text"}

#: Keys a declaration may have. Leaves name a kind of value (see ``_LEAF_CHECKS``).
_SCHEMA: dict[str, Any] = {
    "summary_version": "version",
    "last_update": "date",
    "provider": {"name": "text", "contact": "text", "authorised_representative": "text"},
    "model": {"versioned_names": "texts", "dependencies": "text", "placed_on_union_market": "date"},
    "training_data": {
        "modalities": {m: _MODALITY_ENTRY for m in MODALITIES},
        "latest_data_collection": "date",
        "continuously_trained": "answer",
        "linguistic_characteristics": "text",
        "other_characteristics": "text",
        "additional_comments": "text",
    },
    "dataset_categories": "categories",
    "public_datasets": {
        "used": "bool",
        "modalities": "modalities",
        "large_datasets": "dataset_list",
        "other_datasets": "text",
        "additional_comments": "text",
    },
    "licensed_datasets": {"used": "bool", "modalities": "modalities"},
    "other_private_datasets": {
        "used": "bool",
        "modalities": "modalities",
        "publicly_known_datasets": "dataset_list",
        "general_description": "text",
        "additional_comments": "text",
    },
    "crawled_data": {
        "used": "bool",
        "crawler_names": "texts",
        "purposes": "text",
        "behaviour": "text",
        "collection_period": "text",
        "content_description": "text",
        "modalities": "modalities",
        "top_domains": "texts",
        "top_domains_link": "text",
        "additional_comments": "text",
    },
    "user_data": {
        "from_model_interactions": "bool",
        "from_other_services": "bool",
        "services_description": "text",
        "modalities": "modalities",
        "additional_comments": "text",
    },
    "synthetic_data": {
        "used": "bool",
        "modalities": "modalities",
        "generating_models": "texts",
        "other_generating_models": "text",
        "additional_comments": "text",
    },
    "other_sources": {"used": "bool", "description": "text", "additional_comments": "text"},
    "rights_reservations": {
        "code_of_practice_signatory": "bool",
        "measures": "text",
        "refused_items_excluded": "bool",
        "licensable_items": "text",
        "additional_comments": "text",
    },
    "illegal_content": {"measures": "text"},
    "other_information": "text",
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: let the default constructor report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_declaration(path: str | Path) -> dict:
    """Read and check a declaration: what the provider states that scans cannot know.

    Parameters
    ----------
    path : str or Path
        A UTF-8 YAML file; its keys are described in ``docs/summary.md`` and
        shown in ``examples/summary-declaration.yaml``. Blank values count as
        not given. An empty file is a valid (empty) declaration.

    Returns
    -------
    dict
        The declaration, normalised: blank keys dropped, dates as ISO text,
        size ranges in the template's wording.

    Raises
    ------
    InputError
        One line naming the file and, where there is one, the key: the file
        cannot be read, is not valid YAML, has a key the schema does not know,
        or a value of the wrong type.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file; write a declaration like examples/summary-declaration.yaml") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text; save the declaration as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the declaration ({exc.strerror or exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{p}: not valid YAML{where}: {problem}; fix the syntax there") from None
    return validate_declaration({} if data is None else data, source=str(p))


def validate_declaration(data: Any, *, source: str = "declaration") -> dict:
    """Check a declaration given as a dict and return it normalised.

    Parameters
    ----------
    data : dict
        The parsed declaration (as :func:`load_declaration` reads it).
    source : str
        How error messages name the declaration, usually its file name.

    Raises
    ------
    InputError
        ``"<source>: <key> ..."``: an unknown key or a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: a declaration must be a YAML mapping of keys such as provider: and model:, "
            f"not {_describe(data)}"
        )
    return _check_mapping(data, _SCHEMA, source=source, path="")


def _check_mapping(data: dict, schema: dict, *, source: str, path: str) -> dict:
    out: dict = {}
    for raw_key, value in data.items():
        key = str(raw_key)
        key_path = f"{path}{key}"
        if key not in schema:
            near = difflib.get_close_matches(key, list(schema), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            where = f"under {path[:-1]!r}" if path else "at the top level"
            raise InputError(
                f"{source}: unknown key {key_path!r}{hint}; keys allowed {where}: {', '.join(schema)}"
            )
        if _blank(value):
            if path == "training_data.modalities.":  # "audio:" with nothing under it: used, details to complete
                out[key] = {}
            continue
        spec = schema[key]
        if isinstance(spec, dict):
            if not isinstance(value, dict):
                raise InputError(f"{source}: {key_path} must be a mapping of keys ({', '.join(spec)}), not {_describe(value)}")
            checked = _check_mapping(value, spec, source=source, path=f"{key_path}.")
        else:
            checked = _LEAF_CHECKS[spec](value, source=source, path=key_path)
        if not _blank(checked) or path == "training_data.modalities.":
            out[key] = checked
    if path == "training_data.modalities.":
        _check_modality_entries(out, source=source, path=path)
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not (value.strip() if isinstance(value, str) else value))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the truth value {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def _leaf_text(value: Any, *, source: str, path: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{source}: {path} must be text, not {_describe(value)}; put it in quotes if needed")
    return value.strip()


def _leaf_answer(value: Any, *, source: str, path: str) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if not isinstance(value, str):
        raise InputError(f"{source}: {path} must be true, false or text, not {_describe(value)}")
    return value.strip()


def _leaf_version(value: Any, *, source: str, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{source}: {path} must be a version such as \"1.0\", not {_describe(value)}")
    return str(value).strip()


def _leaf_date(value: Any, *, source: str, path: str) -> str:
    if isinstance(value, (dt.date, dt.datetime)):  # YAML reads 2026-12-01 as a date
        return value.isoformat()
    if not isinstance(value, str):
        raise InputError(f"{source}: {path} must be a date such as 2026-12-01 or 12/2026, not {_describe(value)}")
    return value.strip()


def _leaf_bool(value: Any, *, source: str, path: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{source}: {path} must be true or false, not {_describe(value)}")
    return value


def _leaf_texts(value: Any, *, source: str, path: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{source}: {path} must be a list of texts, not {_describe(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise InputError(f"{source}: {path}[{i}] must be text, not {_describe(item)}")
        if item.strip():
            out.append(item.strip())
    return out


def _leaf_modalities(value: Any, *, source: str, path: str) -> list[str]:
    out = []
    for i, item in enumerate(_leaf_texts(value, source=source, path=path)):
        name = item.strip()
        low = name.lower()
        if low in MODALITIES[:4]:
            out.append(low)
        elif low.startswith("other") and name[5:].lstrip(" :").strip():
            out.append("other: " + name[5:].lstrip(" :").strip())
        else:
            raise InputError(
                f"{source}: {path}[{i}] is {name!r}; use text, image, audio, video, or 'other: <what>'"
            )
    return sorted(set(out), key=out.index)


def _leaf_dataset_list(value: Any, *, source: str, path: str) -> list[dict]:
    if not isinstance(value, list):
        raise InputError(f"{source}: {path} must be a list of datasets (each a name, or name:/link:/description:), not {_describe(value)}")
    out = []
    for i, item in enumerate(value):
        item_path = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise InputError(f"{source}: {item_path} must be a dataset name or a mapping with name:, not {_describe(item)}")
        entry = _check_mapping(item, {"name": "text", "link": "text", "description": "text"}, source=source, path=f"{item_path}.")
        if "name" not in entry:
            raise InputError(f"{source}: {item_path}.name is missing; give the dataset's name or identifier")
        out.append(entry)
    return out


def _leaf_categories(value: Any, *, source: str, path: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{source}: {path} must map scan ids or dataset names to a category, not {_describe(value)}")
    out = {}
    for raw_key, item in value.items():
        key = str(raw_key).strip()
        item_path = f"{path}.{key}"
        if isinstance(item, str):
            item = {"category": item}
        if not isinstance(item, dict):
            raise InputError(
                f"{source}: {item_path} must be a category ({', '.join(CATEGORIES)}) or a mapping with category:, "
                f"not {_describe(item)}"
            )
        entry = _check_mapping(
            item, {"category": "text", "link": "text", "description": "text"}, source=source, path=f"{item_path}."
        )
        category = entry.get("category")
        if category not in CATEGORIES:
            given = "missing" if category is None else repr(category)
            raise InputError(f"{source}: {item_path}.category is {given}; use one of {', '.join(CATEGORIES)}")
        out[key] = entry
    return out


_LEAF_CHECKS = {
    "text": _leaf_text,
    "answer": _leaf_answer,
    "version": _leaf_version,
    "date": _leaf_date,
    "bool": _leaf_bool,
    "texts": _leaf_texts,
    "modalities": _leaf_modalities,
    "dataset_list": _leaf_dataset_list,
    "categories": _leaf_categories,
}


def _squash(text: str) -> str:
    return re.sub(r"[\s,]+", "", text).lower()


def _check_modality_entries(entries: dict, *, source: str, path: str) -> None:
    for modality, entry in entries.items():
        size_range = entry.get("size_range")
        if size_range is not None:
            ranges = SIZE_RANGES.get(modality)
            if ranges is None:
                raise InputError(
                    f"{source}: {path}{modality}.size_range: the template has no ranges for this modality; "
                    "give approximate_size instead"
                )
            canonical = {_squash(r): r for r in ranges}
            if _squash(size_range) not in canonical:
                raise InputError(
                    f"{source}: {path}{modality}.size_range is {size_range!r}; use one of: {'; '.join(ranges)} "
                    "(or give approximate_size)"
                )
            entry["size_range"] = canonical[_squash(size_range)]
        if modality == "other" and "name" not in entry:
            raise InputError(f"{source}: {path}other.name is missing; say which modality it is (e.g. 3D meshes)")
        if modality != "other" and "name" in entry:
            raise InputError(f"{source}: {path}{modality}.name: only the 'other' modality takes a name")


# ---------------------------------------------------------------------------
# Scans: the datasets Consentry checked
# ---------------------------------------------------------------------------

_DECISION_KEYS = ITEM_DECISIONS


def _scan_error(index: int, scan: Any, message: str) -> InputError:
    scan_id = scan.get("scan_id") if isinstance(scan, dict) else None
    label = f"scan {index + 1}" + (f" ({scan_id})" if isinstance(scan_id, str) else "")
    return InputError(f"{label}: {message}; pass scan summaries as described in docs/scan-format.md")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _amount(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _money(index: int, scan: dict, value: Any, key: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(c, str) and _amount(a) for c, a in value.items()):
        raise _scan_error(index, scan, f"{key} must map currency codes to amounts >= 0")
    return {c: float(a) for c, a in value.items()}


def _dataset_from_scan(index: int, scan: Any) -> tuple[dict, list[dict]]:
    """One scanned dataset as a data source, and the registered works the scan found."""
    if not isinstance(scan, dict):
        raise _scan_error(index, scan, f"must be a mapping, not {_describe(scan)}")
    for key in ("scan_id", "status", "created_at"):
        if not isinstance(scan.get(key), str) or not scan[key]:
            raise _scan_error(index, scan, f"{key} must be text")
    src = scan.get("source")
    if not isinstance(src, dict):
        raise _scan_error(index, scan, "source must be a mapping with spec, kind and name")
    totals = scan.get("totals")
    if not isinstance(totals, dict):
        raise _scan_error(index, scan, "totals is missing")
    for key in ("items", "bytes", *_DECISION_KEYS):
        if not _count(totals.get(key)):
            raise _scan_error(index, scan, f"totals.{key} must be a whole number >= 0, not {totals.get(key)!r}")
    if not _amount(totals.get("audio_s")):
        raise _scan_error(index, scan, f"totals.audio_s must be a number of seconds >= 0, not {totals.get('audio_s')!r}")
    registry = scan.get("registry") if isinstance(scan.get("registry"), dict) else {}
    if not _count(registry.get("works")):
        raise _scan_error(index, scan, "registry.works must be the number of registered works checked against")
    engine = scan.get("engine") if isinstance(scan.get("engine"), dict) else {}
    if not isinstance(engine.get("name"), str) or engine.get("version") is None:
        raise _scan_error(index, scan, "engine must give the identification engine's name and version")
    works = scan.get("works") or []
    if not isinstance(works, list) or not all(isinstance(w, dict) and isinstance(w.get("work_id"), str) for w in works):
        raise _scan_error(index, scan, "works must be a list of found works, each with a work_id")
    for w in works:
        if w.get("decision") == "license" and w.get("price") is not None and not _amount(w.get("price")):
            raise _scan_error(index, scan, f"work {w['work_id']}: price must be a number >= 0")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    spec = text(src.get("spec"))
    audio_s = float(totals["audio_s"])
    dataset = {
        "scan_id": scan["scan_id"],
        "scan_status": scan["status"],
        "created_at": scan["created_at"],
        "scanned_at": text(scan.get("finished_at")) or scan["created_at"],
        "name": text(src.get("name")) or spec or scan["scan_id"],
        "kind": text(src.get("kind")),
        "spec": spec,
        "modality": "audio",
        "items": totals["items"],
        "audio_s": round(audio_s, 3),
        "audio_hours": round(audio_s / 3600.0, 2),
        "bytes": totals["bytes"],
        "dataset_fingerprint": text(scan.get("dataset_fingerprint")),
        "registry_works": registry["works"],
        "engine": {"name": engine["name"], "version": str(engine["version"])},
        **{key: totals[key] for key in _DECISION_KEYS},
        "refused_works": len({w["work_id"] for w in works if w.get("decision") == "deny"}),
        "licensable_works": len({w["work_id"] for w in works if w.get("decision") == "license"}),
        "licence_cost": _money(index, scan, scan.get("licence_cost"), "licence_cost"),
        "category": None,
        "category_section": None,
        "link": None,
        "description": None,
    }
    return dataset, works


def _totals(datasets: list[dict], works_by_scan: dict[str, list[dict]], notes: list[str]) -> dict:
    totals: dict[str, Any] = {"datasets": len(datasets)}
    for key in ("items", "bytes", *_DECISION_KEYS):
        totals[key] = sum(d[key] for d in datasets)
    audio_s = sum(d["audio_s"] for d in datasets)
    totals["audio_s"] = round(audio_s, 3)
    totals["audio_hours"] = round(audio_s / 3600.0, 2)

    # Distinct works across scans: a work found in two datasets is one work (and one licence).
    latest: dict[str, dict] = {}
    consistent = True
    for d in datasets:  # oldest scan first, so a later scan's terms win
        found = works_by_scan[d["scan_id"]]
        for w in found:
            latest[w["work_id"]] = w
        own = _sum_money([
            {w["currency"]: float(w["price"])}
            for w in {w["work_id"]: w for w in found}.values()
            if w.get("decision") == "license" and w.get("price") is not None and isinstance(w.get("currency"), str)
        ])
        if any(abs(own.get(c, 0.0) - d["licence_cost"].get(c, 0.0)) > 0.005 for c in set(own) | set(d["licence_cost"])):
            consistent = False
    totals["refused_works"] = sum(1 for w in latest.values() if w.get("decision") == "deny")
    totals["licensable_works"] = sum(1 for w in latest.values() if w.get("decision") == "license")
    if consistent:
        totals["licence_cost"] = _sum_money([
            {w["currency"]: float(w["price"])}
            for w in latest.values()
            if w.get("decision") == "license" and w.get("price") is not None and isinstance(w.get("currency"), str)
        ])
        totals["licence_cost_basis"] = "distinct licensable works across all scans, at the price in force at the latest scan"
    else:
        totals["licence_cost"] = _sum_money([d["licence_cost"] for d in datasets])
        totals["licence_cost_basis"] = "sum of the scans' licence costs (the scans' work lists do not match their costs)"
        notes.append(
            "The licence cost is the sum of the scans' own figures: their lists of found works do not add up to "
            "their licence costs, so works found in more than one dataset could not be counted once. Check the scans."
        )
    works_checked = sorted({d["registry_works"] for d in datasets})
    totals["registry_works"] = {"min": works_checked[0], "max": works_checked[-1]} if works_checked else None
    totals["engines"] = sorted({f"{d['engine']['name']} version {d['engine']['version']}" for d in datasets})
    totals["incomplete_scans"] = [d["scan_id"] for d in datasets if d["scan_status"] != "complete"]
    return totals


# ---------------------------------------------------------------------------
# Building the summary
# ---------------------------------------------------------------------------


def _field(
    key: str,
    label: str,
    value: Any = None,
    *,
    declare: str | None = None,
    source: str = DECLARED,
    optional: bool = False,
    applicable: bool = True,
    note: str | None = None,
    hint: str | None = None,
) -> dict:
    """One field of the template: its value, or why it has none.

    ``note`` is always shown; ``hint`` (how to fill the field) only while the
    field is to complete.
    """
    if value is not None and value != []:
        status = source
    else:
        value = None
        status = NOT_APPLICABLE if not applicable else OPTIONAL if optional else TO_COMPLETE
    if status == TO_COMPLETE and hint:
        note = f"{note} {hint}" if note else hint
    return {"key": key, "label": label, "value": value, "status": status, "declare": declare, "note": note}


def _section(number: str, title: str, *, fields: list | None = None, subsections: list | None = None, **blocks: Any) -> dict:
    """A template section; every section has the same keys, blocks that do not apply are empty."""
    section = {
        "number": number,
        "title": title,
        "fields": fields or [],
        "subsections": subsections or [],
        "modalities": [],  # 1.3: one row per modality
        "unassigned_datasets": [],  # 2: scan ids without a source category
        "scanned_datasets": [],  # 2.x: scan ids assigned to this category
        "consent_registry_check": None,  # 3.1: scan ids and totals of the registry check
    }
    unknown = set(blocks) - set(section)
    if unknown:
        raise TypeError(f"unknown section blocks: {sorted(unknown)}")
    section.update(blocks)
    return section


def _modality_names(modalities: list[str]) -> list[str]:
    return [
        "Other: " + m.split(":", 1)[1].strip() if m.startswith("other:") else _MODALITY_LABELS[m]
        for m in modalities
    ]


def _size_range(modality: str, amount: float) -> str:
    low, mid, high = SIZE_RANGES[modality]
    if modality in ("audio", "video"):
        return low if amount < 10_000 else mid if amount <= 1_000_000 else high
    raise ValueError(modality)


def _fmt_number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _plural(n: int, word: str) -> str:
    """``"1 work"``, ``"2 works"``, ``"1,000 items"``."""
    return f"{_fmt_number(n)} {word}{'' if n == 1 else 's'}"


def _used_state(decl: dict, category: str, datasets: list[dict]) -> tuple[bool | None, str | None]:
    """Whether the provider used this kind of source: declared, implied by assigned datasets, or unknown."""
    declared = decl.get(category, {}).get("used")
    assigned = [d for d in datasets if d["category"] == category]
    if declared is False and assigned:
        names = ", ".join(repr(d["name"]) for d in assigned)
        raise InputError(
            f"declaration: {category}.used is false, but dataset_categories puts {names} in {category}; "
            "correct one of them"
        )
    if declared is not None:
        return declared, None
    if assigned:
        return True, f"Yes, because dataset_categories assigns {_plural(len(assigned), 'scanned dataset')} to this category."
    return None, None


def _modalities_field(key: str, label: str, decl: dict, category: str, datasets: list[dict], used: bool | None) -> dict:
    declared = decl.get(category, {}).get("modalities", [])
    assigned = any(d["category"] == category for d in datasets)
    mods = list(declared)
    note = None
    if assigned and "audio" not in mods:
        mods.append("audio")
        if declared:
            note = "Audio added by Consentry: the scanned datasets in this category hold audio."
    source = DECLARED if declared else FROM_SCANS
    return _field(key, label, _modality_names(mods), declare=f"{category}.modalities", source=source,
                  applicable=used is not False, note=note)


def _dataset_line(name: str, link: str | None, description: str | None) -> str:
    parts = [name]
    if link:
        parts.append(link)
    line = " — ".join(parts)
    return f"{line} ({description})" if description else line


def build_summary(scans: list[dict], declaration: dict, *, generated_at: str) -> dict:
    """Draft the public summary of training content from scans and a declaration.

    Pure: reads nothing, writes nothing, uses no clock (``generated_at`` is given).

    Parameters
    ----------
    scans : list of dict
        Scan summaries as documented in ``docs/scan-format.md``, one per
        dataset used for training. Order does not matter (they are sorted by
        scan time).
    declaration : dict
        What the provider states (see :func:`load_declaration`); checked again here.
    generated_at : str
        ISO 8601 time stamp to print as the draft's generation time.

    Returns
    -------
    dict
        JSON-serialisable; ``sections`` follow the template (1, 2, 3 with their
        subsections), each with ``fields`` of the form ``{"key", "label",
        "value", "status", "declare", "note"}``; ``datasets`` are the scanned
        datasets, ``totals`` their sums; ``to_complete`` lists every field the
        provider still has to fill; ``review_notes`` what to check before
        publishing.

    Raises
    ------
    InputError
        A scan lacks what the contract promises, two scans are of the same
        dataset, or the declaration is invalid or contradicts itself.
    """
    if not isinstance(generated_at, str) or not generated_at.strip():
        raise InputError("generated_at must be an ISO 8601 time stamp such as 2026-11-23T11:00:00+00:00")
    if not isinstance(scans, (list, tuple)):
        raise InputError(f"scans must be a list of scan summaries, not {_describe(scans)}")
    decl = validate_declaration(declaration)
    notes: list[str] = []

    datasets: list[dict] = []
    works_by_scan: dict[str, list[dict]] = {}
    for i, scan in enumerate(scans):
        dataset, works = _dataset_from_scan(i, scan)
        if dataset["scan_id"] in works_by_scan:
            raise _scan_error(i, scan, "the same scan is given twice; pass each scan once")
        works_by_scan[dataset["scan_id"]] = works
        datasets.append(dataset)
    datasets.sort(key=lambda d: (d["created_at"], d["scan_id"]))
    seen_fingerprints: dict[str, str] = {}
    for d in datasets:
        fp = d["dataset_fingerprint"]
        if fp is not None and fp in seen_fingerprints:
            raise InputError(
                f"scans {seen_fingerprints[fp]} and {d['scan_id']} are of the same dataset (same dataset fingerprint); "
                "pass one scan per dataset, the latest"
            )
        if fp is not None:
            seen_fingerprints[fp] = d["scan_id"]

    # Source categories from the declaration: by scan id first, then by source name.
    categories = decl.get("dataset_categories", {})
    used_keys: set[str] = set()
    for d in datasets:
        key = d["scan_id"] if d["scan_id"] in categories else d["name"] if d["name"] in categories else None
        if key is not None:
            used_keys.add(key)
            entry = categories[key]
            d["category"] = entry["category"]
            d["category_section"] = CATEGORIES[entry["category"]]
            d["link"] = entry.get("link")
            d["description"] = entry.get("description")
    for key in sorted(set(categories) - used_keys):
        notes.append(f"dataset_categories names {key!r}, which matches no scan id or dataset name among the scans given.")

    for d in datasets:
        if d["scan_status"] != "complete":
            notes.append(
                f"Scan {d['scan_id']} ({d['name']}) is {d['scan_status']}, not complete: its figures cover part of the "
                "dataset only. Finish the scan (consentry scan --resume) before publishing."
            )
        if d["items"] != sum(d[k] for k in _DECISION_KEYS):
            notes.append(
                f"Scan {d['scan_id']}: the items by decision ({sum(d[k] for k in _DECISION_KEYS)}) do not add up to "
                f"its {d['items']} items."
            )
    if datasets:
        notes.append(
            "Dataset specifications are shown as they were given to the scan and may be local paths; replace them "
            "with public names or links where appropriate."
        )
    if any(d["category"] in ("licensed_datasets", "other_private_datasets") for d in datasets):
        notes.append(
            "The template does not ask providers to name licensed or other private datasets (sections 2.2.1 and "
            "2.2.2 list modalities only, and publicly known private datasets); remove their names before publishing "
            "if they are confidential."
        )
    if not datasets:
        notes.append("No scan was given: nothing in this draft comes from a Consentry check of the training data.")

    totals = _totals(datasets, works_by_scan, notes)
    by_category = {c: [d["scan_id"] for d in datasets if d["category"] == c] for c in CATEGORIES}

    sections = [
        _general_information(decl, datasets, totals),
        _data_sources(decl, datasets, by_category),
        _data_processing(decl, datasets, totals),
    ]
    header = [
        _field("summary_version", "Version of the Summary", decl.get("summary_version"), declare="summary_version"),
        _field("last_update", "Last update", decl.get("last_update"), declare="last_update"),
    ]
    to_complete = [
        {"section": number, "key": f["key"], "label": f["label"], "declare": f["declare"]}
        for number, f in _walk_fields(header, sections)
        if f["status"] == TO_COMPLETE
    ]
    notice = (
        f"DRAFT generated by Consentry {__version__} on {generated_at}. This is not the published summary: the "
        "provider must review every field, complete those marked TO COMPLETE "
        f"({len(to_complete)} left), check the figures taken from Consentry scans, and approve the text before "
        "publishing it."
    )
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "draft": True,
        "draft_notice": notice,
        "title": TITLE,
        "legal_basis": LEGAL_BASIS,
        "template": dict(TEMPLATE),
        "generated_at": generated_at,
        "generated_by": {"name": "consentry", "version": __version__},
        "header": header,
        "sections": sections,
        "datasets": datasets,
        "totals": totals,
        "to_complete": to_complete,
        "review_notes": notes,
    }


def _walk_fields(header: list[dict], sections: list[dict]):
    for f in header:
        yield "", f

    def walk(section: dict):
        for f in section["fields"]:
            yield section["number"], f
        for row in section["modalities"]:
            yield section["number"], row["checked"]
            if row["checked"]["status"] != TO_COMPLETE:  # else "was it used?" comes first; one entry is enough
                yield section["number"], row["training_data_size"]
                yield section["number"], row["types_of_content"]
        for sub in section["subsections"]:
            yield from walk(sub)

    for section in sections:
        yield from walk(section)


def _general_information(decl: dict, datasets: list[dict], totals: dict) -> dict:
    provider = decl.get("provider", {})
    model = decl.get("model", {})
    td = decl.get("training_data", {})
    s11 = _section("1.1", "Provider identification", fields=[
        _field("provider_name", "Provider name", provider.get("name"), declare="provider.name"),
        _field("provider_contact", "Provider contact details", provider.get("contact"), declare="provider.contact"),
        _field("authorised_representative", "Authorised representative name and contact details",
               provider.get("authorised_representative"), declare="provider.authorised_representative",
               hint="Write 'Not applicable' if the provider is established in the Union."),
    ])
    s12 = _section("1.2", "Model identification", fields=[
        _field("versioned_model_names", "Versioned model name(s)", model.get("versioned_names"),
               declare="model.versioned_names"),
        _field("model_dependencies", "Model dependencies", model.get("dependencies"), declare="model.dependencies",
               hint="Name the model(s) this one is fine-tuned or derived from, or write 'None'."),
        _field("placed_on_union_market", "Date of placement of the model on the Union market",
               model.get("placed_on_union_market"), declare="model.placed_on_union_market"),
    ])

    declared_mods = td.get("modalities")
    rows = []
    for m in MODALITIES:
        entry = declared_mods.get(m) if declared_mods is not None else None
        scanned = m == "audio" and bool(datasets)
        label = f"Other ({entry['name']})" if m == "other" and entry else _MODALITY_LABELS[m]
        if entry is not None:
            checked = _field(f"modality_{m}", f"Modality: {label}", True, declare=f"training_data.modalities.{m}")
        elif scanned:
            checked = _field(f"modality_{m}", f"Modality: {label}", True, source=FROM_SCANS,
                             declare=f"training_data.modalities.{m}")
        elif declared_mods is not None:
            checked = _field(f"modality_{m}", f"Modality: {label}", False, declare=f"training_data.modalities.{m}")
        else:
            checked = _field(f"modality_{m}", f"Modality: {label}", None, declare=f"training_data.modalities.{m}",
                             note="List every modality of the training data under training_data.modalities, "
                                  "with its training data size and types of content.")
        in_use = checked["value"] is not False
        size_parts = [p for p in ((entry or {}).get("size_range"), (entry or {}).get("approximate_size")) if p]
        scanned_note = (
            f"Consentry scanned {_fmt_number(totals['audio_hours'], 2)} hours of audio in "
            f"{_plural(len(datasets), 'dataset')}."
            if scanned else None
        )
        if size_parts:
            size = _field(f"size_{m}", f"Training data size ({label})", "; approximately ".join(size_parts),
                          declare=f"training_data.modalities.{m}.size_range", note=scanned_note)
        elif scanned:
            size = _field(
                f"size_{m}", f"Training data size ({label})",
                f"{_size_range('audio', totals['audio_hours'])}; approximately "
                f"{_fmt_number(totals['audio_hours'], 2)} hours in the scanned datasets",
                source=FROM_SCANS, declare=f"training_data.modalities.{m}.size_range",
                note="Covers the scanned datasets only: confirm that they hold all the audio used for training.",
            )
        else:
            size = _field(f"size_{m}", f"Training data size ({label})", None, applicable=in_use,
                          declare=f"training_data.modalities.{m}.size_range")
        types = _field(f"types_of_content_{m}", f"Types of content ({label})", (entry or {}).get("types_of_content"),
                       applicable=in_use, declare=f"training_data.modalities.{m}.types_of_content",
                       hint="E.g. musical compositions, audiobooks, private audio communication." if m == "audio" else None)
        rows.append({"modality": m, "label": label, "checked": checked, "training_data_size": size,
                     "types_of_content": types})

    s13 = _section(
        "1.3", "Modalities, overall training data size and other characteristics", modalities=rows, fields=[
            _field("latest_data_collection", "Latest date of data acquisition/collection for model training",
                   td.get("latest_data_collection"), declare="training_data.latest_data_collection",
                   hint="Month and year, MM/YYYY."),
            _field("continuously_trained", "Continuous training on new data after this date (if applicable)",
                   td.get("continuously_trained"), declare="training_data.continuously_trained", optional=True),
            _field("linguistic_characteristics",
                   "Description of the linguistic characteristics of the overall training data",
                   td.get("linguistic_characteristics"), declare="training_data.linguistic_characteristics"),
            _field("other_characteristics", "Other relevant characteristics of the overall training data",
                   td.get("other_characteristics"), declare="training_data.other_characteristics"),
            _field("additional_comments", "Additional comments (optional)", td.get("additional_comments"),
                   declare="training_data.additional_comments", optional=True),
        ])
    return _section("1", "General information", subsections=[s11, s12, s13])


def _data_sources(decl: dict, datasets: list[dict], by_category: dict[str, list[str]]) -> dict:
    def comments(cat: str, used: bool | None, key: str = "additional_comments") -> dict:
        return _field(f"{cat}.{key}", "Additional comments (optional)", decl.get(cat, {}).get(key),
                      declare=f"{cat}.{key}", optional=True, applicable=used is not False)

    def used_field(cat: str, label: str) -> tuple[dict, bool | None]:
        used, note = _used_state(decl, cat, datasets)
        return _field(f"{cat}.used", label, used, declare=f"{cat}.used", note=note), used

    # 2.1 Publicly available datasets
    cat = "public_datasets"
    pub = decl.get(cat, {})
    used_f, used = used_field(cat, "Have you used publicly available datasets to train the model?")
    scanned = [d for d in datasets if d["category"] == cat]
    listed = [_dataset_line(d["name"], d["link"], d["description"]) for d in scanned]
    listed += [_dataset_line(e["name"], e.get("link"), e.get("description")) for e in pub.get("large_datasets", [])]
    s21 = _section("2.1", "Publicly available datasets", scanned_datasets=by_category[cat], fields=[
        used_f,
        _modalities_field(f"{cat}.modalities",
                          "If yes, specify the modality(ies) of the content covered by the datasets concerned",
                          decl, cat, datasets, used),
        _field(f"{cat}.large_datasets", "List of large publicly available datasets", listed,
               declare=f"{cat}.large_datasets", applicable=used is not False,
               source=DECLARED if pub.get("large_datasets") or not scanned else FROM_SCANS,
               note="Scanned datasets assigned here are listed first, with the link given in dataset_categories."
               if scanned else None),
        _field(f"{cat}.other_datasets", "General description of other publicly available datasets not listed above",
               pub.get("other_datasets"), declare=f"{cat}.other_datasets", applicable=used is not False,
               hint="Write 'None' if all are listed above."),
        comments(cat, used),
    ])

    # 2.2.1 Licensed datasets
    cat = "licensed_datasets"
    used_f, used = used_field(
        cat, "Have you concluded transactional commercial licensing agreement(s) with rightsholder(s) or with "
             "their representatives?")
    s221 = _section("2.2.1", "Datasets commercially licensed by rightsholders or their representatives",
                    scanned_datasets=by_category[cat], fields=[
                        used_f,
                        _modalities_field(f"{cat}.modalities", "If yes, specify the modality(ies) of the content "
                                          "covered by the datasets concerned", decl, cat, datasets, used),
                    ])

    # 2.2.2 Other private datasets
    cat = "other_private_datasets"
    priv = decl.get(cat, {})
    used_f, used = used_field(
        cat, "Have you obtained private datasets from third parties that are not licensed as described in "
             "Section 2.2.1, such as data obtained from providers of private databases, or data intermediaries?")
    s222 = _section("2.2.2", "Private datasets obtained from other third parties",
                    scanned_datasets=by_category[cat], fields=[
                        used_f,
                        _modalities_field(f"{cat}.modalities", "If yes, specify the modality(ies) of the content "
                                          "covered by the datasets concerned", decl, cat, datasets, used),
                        _field(f"{cat}.publicly_known_datasets",
                               "If publicly known, list private datasets obtained from other third parties",
                               [_dataset_line(e["name"], e.get("link"), e.get("description"))
                                for e in priv.get("publicly_known_datasets", [])],
                               declare=f"{cat}.publicly_known_datasets", applicable=used is not False,
                               hint="Write 'None publicly known' if none is."),
                        _field(f"{cat}.general_description",
                               "General description of non-publicly known private datasets obtained from third "
                               "parties", priv.get("general_description"), declare=f"{cat}.general_description",
                               applicable=used is not False),
                        comments(cat, used),
                    ])
    s22 = _section("2.2", "Private non-publicly available datasets obtained from third parties",
                   subsections=[s221, s222])

    # 2.3 Crawled and scraped data
    cat = "crawled_data"
    cr = decl.get(cat, {})
    used_f, used = used_field(cat, "Were crawlers used by the provider or on behalf of?")
    on = used is not False
    domains = list(cr.get("top_domains", []))
    if cr.get("top_domains_link"):
        domains.append(f"Full list: {cr['top_domains_link']}")
    s23 = _section("2.3", "Data crawled and scraped from online sources", scanned_datasets=by_category[cat], fields=[
        used_f,
        _field(f"{cat}.crawler_names", "If yes, specify crawler name(s)/identifier(s)", cr.get("crawler_names"),
               declare=f"{cat}.crawler_names", applicable=on),
        _field(f"{cat}.purposes", "Purposes of the crawler(s)", cr.get("purposes"), declare=f"{cat}.purposes",
               applicable=on),
        _field(f"{cat}.behaviour", "General description of crawler behaviour", cr.get("behaviour"),
               declare=f"{cat}.behaviour", applicable=on,
               hint="E.g. respect of robots.txt and other opt-out protocols, of paywalls, log-ins and CAPTCHAs."),
        _field(f"{cat}.collection_period", "Period of data collection", cr.get("collection_period"),
               declare=f"{cat}.collection_period", applicable=on,
               hint="From MM/YYYY to MM/YYYY, per crawler."),
        _field(f"{cat}.content_description",
               "Comprehensive description of the type of content and online sources crawled",
               cr.get("content_description"), declare=f"{cat}.content_description", applicable=on),
        _modalities_field(f"{cat}.modalities", "Type of modality covered", decl, cat, datasets, used),
        _field(f"{cat}.top_domains", "Summary of the most relevant domain names crawled", domains,
               declare=f"{cat}.top_domains", applicable=on,
               hint="The Explanatory Notice asks for the top 10% of domain names by size of content scraped "
               "(top 5% or 1 000 domains, whichever is lower, for SMEs)."),
        comments(cat, used),
    ])

    # 2.4 User data
    cat = "user_data"
    ud = decl.get(cat, {})
    assigned = by_category[cat]
    from_model = ud.get("from_model_interactions")
    from_other = ud.get("from_other_services")
    if from_model is False and from_other is False and assigned:
        raise InputError(
            "declaration: user_data.from_model_interactions and user_data.from_other_services are both false, "
            "but dataset_categories puts scanned datasets in user_data; correct one of them"
        )
    any_user = True if (from_model or from_other or assigned) else False if (from_model is False and from_other is False) else None
    s24 = _section("2.4", "User data", scanned_datasets=assigned, fields=[
        _field(f"{cat}.from_model_interactions", "Was data from user interactions with the AI model (e.g. user "
               "input and prompts) used to train the model?", from_model, declare=f"{cat}.from_model_interactions"),
        _field(f"{cat}.from_other_services", "Was data collected from user interactions with the provider's other "
               "services or products used to train the model?", from_other, declare=f"{cat}.from_other_services"),
        _field(f"{cat}.services_description", "If yes, provide a general description of the provider's services or "
               "products that were used to collect the user data", ud.get("services_description"),
               declare=f"{cat}.services_description", applicable=any_user is not False),
        _modalities_field(f"{cat}.modalities", "Type of modality covered", decl, cat, datasets, any_user),
        comments(cat, any_user),
    ])

    # 2.5 Synthetic data
    cat = "synthetic_data"
    sd = decl.get(cat, {})
    used_f, used = used_field(cat, "Was synthetic AI-generated data created by the provider or on their behalf to "
                                   "train the model?")
    s25 = _section("2.5", "Synthetic data", scanned_datasets=by_category[cat], fields=[
        used_f,
        _modalities_field(f"{cat}.modalities", "If yes, modality of the synthetic data", decl, cat, datasets, used),
        _field(f"{cat}.generating_models", "If yes, specify the general-purpose AI model(s) used to generate the "
               "synthetic data if available on the market", sd.get("generating_models"),
               declare=f"{cat}.generating_models", applicable=used is not False,
               hint="Write 'None' if no model on the market was used."),
        _field(f"{cat}.other_generating_models", "Information about other AI models, including provider's own AI "
               "model(s) not available on the market, used to generate synthetic data to train the model",
               sd.get("other_generating_models"), declare=f"{cat}.other_generating_models",
               applicable=used is not False),
        comments(cat, used),
    ])

    # 2.6 Other sources
    cat = "other_sources"
    other = decl.get(cat, {})
    used_f, used = used_field(cat, "Have data sources other than those described in Sections 2.1 to 2.5 been used "
                                   "to train the model?")
    s26 = _section("2.6", "Other sources of data", scanned_datasets=by_category[cat], fields=[
        used_f,
        _field(f"{cat}.description", "If yes, provide a narrative description of these data sources and the data",
               other.get("description"), declare=f"{cat}.description", applicable=used is not False),
        comments(cat, used),
    ])

    unassigned = [d["scan_id"] for d in datasets if d["category"] is None]
    fields = [
        _field(f"dataset_categories.{d['scan_id']}", f"Source category of the scanned dataset {d['name']!r} "
               f"(scan {d['scan_id']})", None, declare=f"dataset_categories.{d['scan_id']}",
               note=f"One of: {', '.join(CATEGORIES)}.")
        for d in datasets if d["category"] is None
    ]
    return _section("2", "List of data sources", fields=fields, unassigned_datasets=unassigned,
                    subsections=[s21, s22, s23, s24, s25, s26])


def _consentry_narrative(datasets: list[dict], totals: dict) -> str | None:
    """Section 3.1 in words: what the check against the consent registry covered and found."""
    if not datasets:
        return None
    n = len(datasets)
    works = totals["registry_works"]
    registry = (
        _plural(works["min"], "registered work") if works["min"] == works["max"]
        else f"{_fmt_number(works['min'])} to {_fmt_number(works['max'])} registered works (it grew between scans)"
    )
    t = totals
    text = (
        f"Before training, {_plural(n, 'dataset')} ({_plural(t['items'], 'item')}, "
        f"{_fmt_number(t['audio_hours'], 2)} hours of audio) {'was' if n == 1 else 'were'} checked with Consentry "
        f"against a consent registry of {registry}, in which rights holders state whether their works may be used "
        "for training AI models (refused, allowed, or licensed at a price). Works were identified by their content "
        f"(audio identification engine: {', '.join(t['engines'])}), not by file names or metadata. "
        f"Across all scanned datasets: {_plural(t['refused'], 'item')} contained a registered work whose rights "
        f"holder refuses training ({_plural(t['refused_works'], 'distinct work')}); "
        f"{_plural(t['licensable'], 'item')} contained works offered for training under licence "
        f"({_plural(t['licensable_works'], 'distinct work')}, licence cost {_fmt_money(t['licence_cost'])}); "
        f"{_plural(t['allowed'], 'item')} contained only works whose rights holders allow training; "
        f"{_plural(t['unknown'], 'item')} matched no registered work; "
        f"{_plural(t['error'], 'item')} could not be read or were not audio. "
        "This check covers the reservations recorded in that registry only."
    )
    if t["incomplete_scans"]:
        text += f" Not complete, so their figures are partial: scan {', '.join(t['incomplete_scans'])}."
    return text


def _data_processing(decl: dict, datasets: list[dict], totals: dict) -> dict:
    rr = decl.get("rights_reservations", {})
    checked = bool(datasets)
    refused_found = checked and totals["refused"] > 0
    licensable_found = checked and totals["licensable"] > 0
    s31 = _section(
        "3.1", "Respect of reservation of rights from text and data mining exception or limitation",
        consent_registry_check={"datasets": [d["scan_id"] for d in datasets], "totals": totals} if checked else None,
        fields=[
            _field("rights_reservations.code_of_practice_signatory", "Are you a Signatory to the Code of Practice for "
                   "general-purpose AI models that includes commitments to respect reservations of rights from the "
                   "TDM exception or limitation?", rr.get("code_of_practice_signatory"),
                   declare="rights_reservations.code_of_practice_signatory"),
            _field("rights_reservations.measures", "Describe the measures implemented before model training to respect "
                   "reservations of rights from the TDM exception or limitation before and during data collection, "
                   "including the opt-out protocols and solutions honoured by the provider or, as applicable, by third "
                   "parties from which datasets have been obtained", rr.get("measures"),
                   declare="rights_reservations.measures",
                   hint="Describe the measures beyond the Consentry check below, e.g. robots.txt and other machine-readable "
                   "opt-outs (Article 4(3) of Directive (EU) 2019/790)."),
            _field("rights_reservations.consent_registry_check",
                   "Check of the training datasets against a consent registry (drafted by Consentry from its scans)",
                   _consentry_narrative(datasets, totals), source=FROM_SCANS, optional=True,
                   note=None if checked else "No Consentry scan was given."),
            _field("rights_reservations.refused_items_excluded",
                   "Were the items containing works whose rights holders refuse training removed from the training "
                   "data?", rr.get("refused_items_excluded"), declare="rights_reservations.refused_items_excluded",
                   applicable=refused_found,
                   note=f"{_fmt_number(totals['refused'])} such items were found." if refused_found else
                   "No such item was found." if checked else None),
            _field("rights_reservations.licensable_items",
                   "How were the items containing works offered under licence handled (licensed or removed)?",
                   rr.get("licensable_items"), declare="rights_reservations.licensable_items",
                   applicable=licensable_found,
                   note=f"{_fmt_number(totals['licensable'])} such items were found, licence cost "
                        f"{_fmt_money(totals['licence_cost'])}." if licensable_found else
                   "No such item was found." if checked else None),
            _field("rights_reservations.additional_comments", "Additional comments (optional)",
                   rr.get("additional_comments"), declare="rights_reservations.additional_comments", optional=True),
        ])
    s32 = _section("3.2", "Removal of illegal content", fields=[
        _field("illegal_content.measures", "General description of measures taken",
               decl.get("illegal_content", {}).get("measures"), declare="illegal_content.measures",
               hint="Measures to avoid or remove content illegal under Union law, e.g. blocklists, keywords, classifiers."),
    ])
    s33 = _section("3.3", "Other information (optional)", fields=[
        _field("other_information", "Other relevant information about data processing (optional)",
               decl.get("other_information"), declare="other_information", optional=True),
    ])
    return _section("3", "Data processing aspects", subsections=[s31, s32, s33])


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def render_summary(summary: dict, *, fmt: str) -> str:
    """Render a summary from :func:`build_summary` as Markdown, HTML or JSON.

    Parameters
    ----------
    summary : dict
        As returned by :func:`build_summary`.
    fmt : {"md", "html", "json"}
        ``md``: Markdown, every value escaped (pipes in table cells too);
        ``html``: one self-contained, accessible page (inline CSS, no scripts,
        autoescaped); ``json``: the summary itself with sorted keys, so the same
        summary always gives the same bytes.

    Raises
    ------
    InputError
        ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "md":
        return _render_markdown(summary)
    if fmt == "html":
        return _html_environment().get_template("summary.html.j2").render(
            s=summary, datasets={d["scan_id"]: d for d in summary["datasets"]}
        )
    raise InputError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _plain(value: Any) -> str:
    """A scalar value as text (booleans as the template's Yes/No)."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, int):
        return _fmt_number(value)
    if isinstance(value, float):
        return _fmt_number(value, 2)
    return str(value)


def _fmt_bytes(n: int) -> str:
    size, unit = float(n), "B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            break
        size /= 1000
    return f"{_fmt_number(n)} B" if unit == "B" else f"{size:,.1f} {unit}"


def _http_url(value: Any) -> str | None:
    """The value if it is an http(s) URL safe to link to, else None (no javascript: and the like)."""
    if isinstance(value, str) and re.fullmatch(r"https?://[^\s<>\"'`]+", value.strip(), flags=re.IGNORECASE):
        return value.strip()
    return None


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(?:(#{1,6}|[+\-])(?=\s|$)|(\d{1,9})([.)])(?=\s|$))")


def _md(value: Any) -> str:
    """Text safe inside a Markdown line or table cell: one line, markup and HTML escaped."""
    text = " ".join(_plain(value).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _md_start(value: Any) -> str:
    """Like :func:`_md`, for text that starts a line or a list item (no accidental heading or list)."""
    def escape(m: re.Match) -> str:
        return "\\" + m.group(1) if m.group(1) else f"{m.group(2)}\\{m.group(3)}"

    return _MD_LINE_START.sub(escape, _md(value))


def _md_code(text: str) -> str:
    return f"`{text}`" if "`" not in text and "\n" not in text else _md(text)


def _md_todo(field: dict) -> str:
    hint = f" (declare {_md_code(field['declare'])})" if field["declare"] else ""
    note = f" — {_md(field['note'])}" if field["note"] else ""
    return f"**TO COMPLETE — {_md(field['label'])}**{hint}{note}"


def _md_cell(field: dict) -> str:
    """A field inside a table cell."""
    if field["status"] == TO_COMPLETE:
        return f"**TO COMPLETE — {_md(field['label'])}**"
    if field["value"] is None:
        return "—"
    value = field["value"]
    text = "; ".join(_md(v) for v in value) if isinstance(value, list) else _md(value)
    text += " *(from Consentry scans)*" if field["status"] == FROM_SCANS else ""
    return text + (f" — *{_md(field['note'])}*" if field["note"] else "")


def _md_field(field: dict) -> list[str]:
    """A field as a Markdown list item (a list value as nested items)."""
    status = field["status"]
    if status == TO_COMPLETE:
        return [f"- {_md_todo(field)}"]
    label = _md(field["label"])
    label += "" if label.endswith(("?", ":")) else ":"
    note = f" *({_md(field['note'])})*" if field["note"] else ""
    if status == NOT_APPLICABLE:
        return [f"- **{label}** Not applicable.{note}"]
    if status == OPTIONAL:
        return [f"- **{label}** Optional: nothing declared.{note}"]
    tag = " *[from Consentry scans]*" if status == FROM_SCANS else ""
    value = field["value"]
    if isinstance(value, list):
        return [f"- **{label}**{tag}{note}"] + [f"  - {_md_start(v)}" for v in value]
    return [f"- **{label}** {_md(value)}{tag}{note}"]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_datasets(ids: list[str], by_id: dict[str, dict]) -> list[str]:
    headers = ["Dataset", "Kind", "Specification", "Items", "Audio (hours)", "Size", "Modality", "Scan",
               "Dataset fingerprint (SHA-256)", "Date of scan"]
    rows = []
    for scan_id in ids:
        d = by_id[scan_id]
        rows.append([
            _md(d["name"]), _md(d["kind"] or "—"), _md(d["spec"] or "—"), _md(d["items"]),
            _md(_fmt_number(d["audio_hours"], 2)), _md(_fmt_bytes(d["bytes"])), _md(_MODALITY_LABELS[d["modality"]]),
            _md(f"{d['scan_id']} ({d['scan_status']})"), _md(d["dataset_fingerprint"] or "— (scan not complete)"),
            _md(d["scanned_at"]),
        ])
    return _md_table(headers, rows)


def _md_check_table(check: dict, by_id: dict[str, dict]) -> list[str]:
    headers = ["Dataset", "Scan", "Registered works checked", "Identification engine", "Items", "Refused (works)",
               "Licensable (works)", "Licence cost", "Allowed", "Unidentified", "Errors"]
    rows = []
    for scan_id in check["datasets"]:
        d = by_id[scan_id]
        rows.append([
            _md(d["name"]), _md(d["scan_id"]), _md(d["registry_works"]),
            _md(f"{d['engine']['name']} version {d['engine']['version']}"), _md(d["items"]),
            _md(f"{_fmt_number(d['refused'])} ({_fmt_number(d['refused_works'])})"),
            _md(f"{_fmt_number(d['licensable'])} ({_fmt_number(d['licensable_works'])})"),
            _md(_fmt_money(d["licence_cost"])), _md(d["allowed"]), _md(d["unknown"]), _md(d["error"]),
        ])
    t = check["totals"]
    works = t["registry_works"]
    rows.append([
        "**Total**", _md(f"{t['datasets']} scan{'s' if t['datasets'] != 1 else ''}"),
        _md(_fmt_number(works["min"]) if works["min"] == works["max"] else f"{works['min']:,}–{works['max']:,}"),
        _md("; ".join(t["engines"])), f"**{_md(t['items'])}**",
        f"**{_md(_fmt_number(t['refused']))}** ({_md(_fmt_number(t['refused_works']))} distinct)",
        f"**{_md(_fmt_number(t['licensable']))}** ({_md(_fmt_number(t['licensable_works']))} distinct)",
        f"**{_md(_fmt_money(t['licence_cost']))}**", f"**{_md(t['allowed'])}**", f"**{_md(t['unknown'])}**",
        f"**{_md(t['error'])}**",
    ])
    return _md_table(headers, rows)


def _render_markdown(summary: dict) -> str:
    by_id = {d["scan_id"]: d for d in summary["datasets"]}
    out: list[str] = [
        f"> **{_md(summary['draft_notice'])}**",
        "",
        f"# {_md(summary['title'])}",
        "",
        f"Required by {_md(summary['legal_basis'])}. Drafted in the structure of the "
        f"{_md(summary['template']['title'])}: {_md(summary['template']['reference'])}, {_md(summary['template']['url'])}",
        "",
    ]
    for field in summary["header"]:
        out += _md_field(field)
    out.append("")

    def section(sec: dict, level: int) -> None:
        dot = "." if sec["number"].count(".") < 2 else ""
        out.extend([f"{'#' * level} {sec['number']}{dot} {_md(sec['title'])}", ""])
        if sec.get("modalities"):
            rows = []
            for row in sec["modalities"]:
                checked = row["checked"]
                box = "☒" if checked["value"] is True else "☐" if checked["value"] is False else "?"
                first = f"{box} {_md(row['label'])}"
                if checked["status"] == TO_COMPLETE:
                    first += f" — **TO COMPLETE — {_md(checked['label'])}** (used or not?)"
                elif checked["status"] == FROM_SCANS:
                    first += " *(from Consentry scans)*"
                rows.append([first, _md_cell(row["training_data_size"]), _md_cell(row["types_of_content"])])
            out.extend(_md_table(["Modality", "Training data size", "Types of content"], rows))
            notes = []
            for row in sec["modalities"]:
                if row["checked"]["note"] and row["checked"]["note"] not in notes:
                    notes.append(row["checked"]["note"])
            out.extend(["", *(f"- {_md_start(n)}" for n in notes), ""] if notes else [""])
        if sec.get("unassigned_datasets"):
            out.extend(["Scanned datasets not yet assigned to a source category below:", ""])
            out.extend(_md_datasets(sec["unassigned_datasets"], by_id))
            out.append("")
        for field in sec["fields"]:
            out.extend(_md_field(field))
        if sec["fields"]:
            out.append("")
        if sec.get("scanned_datasets"):
            out.extend(["Datasets in this category checked by Consentry:", ""])
            out.extend(_md_datasets(sec["scanned_datasets"], by_id))
            out.append("")
        if sec.get("consent_registry_check"):
            out.extend(["Consent registry check, per scanned dataset (items; distinct works in brackets):", ""])
            out.extend(_md_check_table(sec["consent_registry_check"], by_id))
            out.append("")
        for sub in sec["subsections"]:
            section(sub, min(level + 1, 6))

    for sec in summary["sections"]:
        section(sec, 2)

    out.extend(["## Before publishing (remove this part)", ""])
    if summary["review_notes"]:
        out.extend(["Points to review:", ""])
        out.extend(f"- {_md_start(note)}" for note in summary["review_notes"])
        out.append("")
    if summary["to_complete"]:
        out.extend([f"Fields to complete ({len(summary['to_complete'])}):", ""])
        for item in summary["to_complete"]:
            where = f"{item['section']} " if item["section"] else ""
            hint = f" — declare {_md_code(item['declare'])}" if item["declare"] else ""
            out.append(f"- {_md_start(where + item['label'])}{hint}")
    else:
        out.append("No field is left to complete.")
    out.extend(["", f"*{_md(summary['draft_notice'])}*", ""])
    return "\n".join(out)


def _html_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        plain=_plain,
        number=_fmt_number,
        money=_fmt_money,
        nbytes=_fmt_bytes,
        http_url=_http_url,
        modality=lambda m: _MODALITY_LABELS.get(m, m),
    )
    env.globals.update(
        TO_COMPLETE=TO_COMPLETE, NOT_APPLICABLE=NOT_APPLICABLE, OPTIONAL=OPTIONAL, FROM_SCANS=FROM_SCANS,
    )
    return env

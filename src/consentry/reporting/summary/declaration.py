"""The provider's declaration (YAML, docs/summary.md): schema, loading, validation."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from consentry.domain.errors import InputError
from consentry.reporting.summary.model import CATEGORIES, MODALITIES, SIZE_RANGES


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

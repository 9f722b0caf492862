"""Building the summary: the template's sections filled from the scans and the declaration (pure)."""

from __future__ import annotations

from consentry import __version__
from consentry.domain.errors import InputError
from consentry.reporting.format import format_money_codes_first as _fmt_money
from consentry.reporting.summary.declaration import _describe, validate_declaration
from consentry.reporting.summary.model import (
    CATEGORIES, CHARS_PER_TOKEN, DECLARED, FORMAT_NAME, FORMAT_VERSION, FROM_SCANS, LEGAL_BASIS, MODALITIES, TEMPLATE, TITLE,
    TO_COMPLETE, _MODALITY_LABELS, _field, _fmt_number, _modality_names, _plural, _section, _size_range,
)
from consentry.reporting.summary.scans import _DECISION_KEYS, _dataset_from_scan, _scan_error, _totals


# ---------------------------------------------------------------------------
# Building the summary
# ---------------------------------------------------------------------------



def _scanned_size(modality: str, m: dict | None) -> tuple[str, str, str | None] | None:
    """(template size range, the amount in words, a note on how it was estimated) of what the scans read."""
    if not m:
        return None
    if modality == "audio":
        hours = m["size"] / 3600.0
        return _size_range("audio", hours), f"{_fmt_number(hours, 2)} hours of audio", None
    if modality == "text":
        tokens = m["size"] / CHARS_PER_TOKEN
        return (_size_range("text", tokens), f"{_fmt_number(m['size'])} characters of text",
                f" The token range assumes about {CHARS_PER_TOKEN:g} characters per token; count with the model's "
                "own tokenizer to confirm.")
    if modality == "image":
        return _size_range("image", m["items"]), _plural(int(m["items"]), "image"), None
    return None

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
    scanned = [m for m in MODALITIES if any(d["category"] == category and m in d["modalities"] for d in datasets)]
    mods = list(declared)
    added = [m for m in scanned if m not in mods]
    mods += added
    note = None
    if added and declared:
        words = " and ".join(_MODALITY_LABELS[m] for m in added)
        note = f"{words} added by Consentry: the scanned datasets in this category hold {words.lower()}."
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
        scanned = bool(datasets) and m in totals["media"]
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
        scanned_size = _scanned_size(m, totals["media"].get(m)) if scanned else None
        scanned_note = (
            f"Consentry scanned {scanned_size[1]} in {_plural(len(datasets), 'dataset')}." if scanned_size else None
        )
        if size_parts:
            size = _field(f"size_{m}", f"Training data size ({label})", "; approximately ".join(size_parts),
                          declare=f"training_data.modalities.{m}.size_range", note=scanned_note)
        elif scanned_size:
            size = _field(
                f"size_{m}", f"Training data size ({label})",
                f"{scanned_size[0]}; approximately {scanned_size[1]} in the scanned datasets",
                source=FROM_SCANS, declare=f"training_data.modalities.{m}.size_range",
                note=f"Covers the scanned datasets only: confirm that they hold all the {label.lower()} used for "
                     "training." + (scanned_size[2] or ""),
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
    read = ", ".join(_scanned_size(m, t["media"][m])[1] for m in MODALITIES if m in t["media"]) \
        or f"{_fmt_number(t['audio_hours'], 2)} hours of audio"
    text = (
        f"Before training, {_plural(n, 'dataset')} ({_plural(t['items'], 'item')}: "
        f"{read}) {'was' if n == 1 else 'were'} checked with Consentry "
        f"against a consent registry of {registry}, in which rights holders state whether their works may be used "
        "for training AI models (refused, allowed, or licensed at a price). Works were identified by their content "
        f"(identification engine named in the scans: {', '.join(t['engines'])}), not by file names or metadata. "
        f"Across all scanned datasets: {_plural(t['refused'], 'item')} contained a registered work whose rights "
        f"holder refuses training ({_plural(t['refused_works'], 'distinct work')}); "
        f"{_plural(t['licensable'], 'item')} contained works offered for training under licence "
        f"({_plural(t['licensable_works'], 'distinct work')}, licence cost {_fmt_money(t['licence_cost'])}); "
        f"{_plural(t['allowed'], 'item')} contained only works whose rights holders allow training; "
        f"{_plural(t['unknown'], 'item')} matched no registered work; "
        f"{_plural(t['error'], 'item')} could not be read or were of no medium Consentry identifies. "
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

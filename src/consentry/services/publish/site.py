"""Build the whole site in memory (pure) and write it to a folder (the only I/O here)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

from consentry.domain.errors import InputError
from consentry.formats.crawlers import Crawler, load_crawlers
from consentry.formats.headers import render_apache, render_caddy, render_nginx, site_headers
from consentry.formats.mapping import tdm_licensed
from consentry.services.publish.pages import (
    creator_json, dump_json, index_json, render_creator_html, render_index_html, render_work_html, work_json,
)
from consentry.services.publish.plan import SitePlan, build_plan
from consentry.formats.robots import render_ai_txt, render_robots
from consentry.formats.rsl import render_rsl
from consentry.formats.tdmrep import policy_path, tdm_policy, tdmrep_rules

#: Written next to the files so that a later publish may replace the folder.
MANIFEST_NAME = ".consentry-publish.json"


@dataclass(frozen=True)
class Site:
    """A published site, in memory.

    ``files`` maps a site path (no leading ``/``: ``"robots.txt"``,
    ``".well-known/tdmrep.json"``, ``"terms/works/<id>.html"``) to its bytes;
    ``headers`` lists ``(path pattern, {header: value})`` for the HTTP
    headers to send, one entry per work (``"/works/<id>/*"``).
    """

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    headers: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def build_site(export: Mapping, *, base_url: str, today: dt.date | None = None,
               crawlers: tuple[Crawler, ...] | None = None) -> Site:
    """Every machine-readable form of the terms in ``export`` (docs/terms-model.md), for ``base_url``.

    Pure: the same export gives the same bytes. ``today`` decides which
    works' terms are shown as not in force (default: the day the export was
    generated). ``crawlers`` defaults to ``formats/data/ai_crawlers.json``.
    Raises :class:`~consentry.domain.errors.InputError` (one line) for a bad
    ``base_url`` or a damaged export.
    """
    plan = build_plan(export, base_url=base_url, today=today)
    return render_site(plan, crawlers if crawlers is not None else load_crawlers())


def render_site(plan: SitePlan, crawlers: tuple[Crawler, ...]) -> Site:
    headers = site_headers(plan)
    files: dict[str, bytes] = {
        "robots.txt": render_robots(plan, crawlers).encode("utf-8"),
        "ai.txt": render_ai_txt(plan).encode("utf-8"),
        ".well-known/tdmrep.json": dump_json(tdmrep_rules(plan)),
        "rsl.xml": render_rsl(plan),
        "headers.json": dump_json([{"path": p, "headers": h} for p, h in headers]),
        "server/nginx.conf": render_nginx(plan, headers).encode("utf-8"),
        "server/apache.htaccess": render_apache(plan, headers).encode("utf-8"),
        "server/Caddyfile": render_caddy(plan, headers).encode("utf-8"),
        "terms/index.html": render_index_html(plan),
        "terms/index.json": dump_json(index_json(plan)),
    }
    for w in plan.works:
        files[f"terms/works/{w.work_id}.html"] = render_work_html(plan, w)
        files[f"terms/works/{w.work_id}.json"] = dump_json(work_json(plan, w))
        if tdm_licensed(w.uses):
            files[policy_path(w.work_id).lstrip("/")] = dump_json(tdm_policy(plan, w))
    for c in plan.creators:
        files[f"terms/creators/{c.creator_id}.html"] = render_creator_html(plan, c)
        files[f"terms/creators/{c.creator_id}.json"] = dump_json(creator_json(plan, c))
    return Site(base_url=plan.base_url, files=files, headers=headers)


# ---------------------------------------------------------------- writing


def safe_relative_path(site_path: str) -> PurePosixPath:
    """``site_path`` as a relative path that stays inside the output folder, or :class:`InputError`."""
    if not isinstance(site_path, str) or not site_path or "\\" in site_path or "\x00" in site_path:
        raise InputError(f"site path {site_path!r}: not a plain relative path; refusing to write it")
    p = PurePosixPath(site_path)
    if p.is_absolute() or any(part in ("", ".", "..") for part in site_path.split("/")) or p.name == MANIFEST_NAME:
        raise InputError(f"site path {site_path!r}: would write outside the output folder; refusing to write it")
    return p


def write_site(site: Site, out_dir: str | os.PathLike) -> Path:
    """Write ``site.files`` under ``out_dir``; return the folder.

    The files are written to a new folder beside ``out_dir`` first, then put
    in its place with renames, so a failure leaves either the old folder or
    the new one, never a half-written site. ``out_dir`` must be missing,
    empty, or a folder an earlier publish wrote (it holds our manifest,
    ``.consentry-publish.json``); any other folder is refused rather than
    replaced. Paths that would land outside ``out_dir`` are refused.
    """
    paths = {name: safe_relative_path(name) for name in site.files}
    target = Path(out_dir).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a folder; choose a folder for --out")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST_NAME).is_file():
        raise InputError(f"{target}: the folder is not empty and was not written by consentry publish; "
                         "choose an empty or new folder for --out")
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.publishing-", dir=parent))
    try:
        root = staging.resolve()
        for name, rel in sorted(paths.items()):
            dest = staging / rel
            if root not in dest.resolve().parents:
                raise InputError(f"site path {name!r}: would write outside the output folder; refusing to write it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "xb") as fh:
                fh.write(site.files[name])
        manifest = {"format": "consentry-publish-manifest", "format_version": 1, "base_url": site.base_url,
                    "files": {name: hashlib.sha256(site.files[name]).hexdigest() for name in sorted(site.files)}}
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)

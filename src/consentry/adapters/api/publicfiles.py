"""The published site (consentry.services.publish), built from the registry and cached until the terms change.

The cache key is a version of the registry read with one small query (works,
removals, terms versions, creators' default terms, the newest registration,
claim events: a dispute changes the terms reported)
plus the day (terms with validity dates come into or go out of force) and,
as a backstop for changes that query does not see, an age of ``max_age_s``.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from consentry.services.publish import build_site
from consentry.services.publish.site import Site

MEDIA_TYPES = {
    ".txt": "text/plain; charset=utf-8", ".json": "application/json", ".html": "text/html; charset=utf-8",
    ".xml": "application/rsl+xml", ".conf": "text/plain; charset=utf-8", ".htaccess": "text/plain; charset=utf-8",
}
#: Site files that are deployment snippets, not public documents.
PRIVATE_FILES = ("headers.json", "server/")


def registry_version(registry) -> str:
    """A string that changes whenever a work, a removal, a terms version or a claim event is added."""
    return registry.change_stamp()


@dataclass(frozen=True)
class BuiltSite:
    site: Site
    etag: str
    built_at: float

    def media_type(self, path: str) -> str:
        for suffix, media in MEDIA_TYPES.items():
            if path.endswith(suffix):
                return media
        return "application/octet-stream"

    def headers_for(self, url_path: str) -> dict[str, str]:
        """The headers the publish feature asks for on ``url_path`` (patterns such as ``/works/<id>/*``)."""
        out: dict[str, str] = {}
        for pattern, headers in self.site.headers:
            if fnmatchcase(url_path, pattern):
                out.update(headers)
        return out

    def public_files(self) -> dict[str, bytes]:
        return {p: b for p, b in self.site.files.items() if not p.startswith(PRIVATE_FILES)}


def site_zip(site: Site) -> bytes:
    """Every file of the site in a zip (what ``consentry publish --out`` writes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(site.files):
            info = zipfile.ZipInfo(path, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, site.files[path])
    return buf.getvalue()


class PublishCache:
    """The registry's whole published site, rebuilt only when the registry version (or the day) changes."""

    def __init__(self, base_url: str, *, max_age_s: float = 300.0) -> None:
        self.base_url = base_url
        self.max_age_s = max_age_s
        self._built: BuiltSite | None = None
        self._key: str | None = None
        self._lock = threading.Lock()
        self.builds = 0

    def get(self, registry) -> BuiltSite:
        key = f"{registry_version(registry)}|{date.today().isoformat()}"
        built = self._built
        if built is not None and self._key == key and time.monotonic() - built.built_at < self.max_age_s:
            return built
        with self._lock:
            if self._built is not None and self._key == key and time.monotonic() - self._built.built_at < self.max_age_s:
                return self._built
            export = registry.terms_export()
            site = build_site(export, base_url=self.base_url)
            digest = hashlib.sha256()
            for path in sorted(site.files):
                digest.update(path.encode() + b"\0" + hashlib.sha256(site.files[path]).digest())
            self._built = BuiltSite(site=site, etag=f'"{digest.hexdigest()[:32]}"', built_at=time.monotonic())
            self._key = key
            self.builds += 1
            return self._built


def export_for_creator(export: dict, creator: str) -> dict:
    """The part of a terms export that is one creator's (for a creator's own publish download)."""
    works = [w for w in export["works"] if w["creator"] == creator]
    creators = [c for c in export["creators"] if c["name"] == creator]
    return {**export, "works": works, "creators": creators}

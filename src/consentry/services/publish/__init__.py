"""``consentry publish``: one source of truth (the terms export) in every machine-readable form.

>>> site = build_site(export, base_url="https://music.example.org")   # pure
>>> check_site(site, export)          # [] when every output agrees with the export and each other
>>> write_site(site, "public/")       # all files at once, never half a site

The export is the dict of docs/terms-model.md; the files written, the specs
and versions implemented and the choices made are in docs/publish.md.
"""

from consentry.services.publish.check import check_site, site_warnings
from consentry.formats.crawlers import Crawler, load_crawlers
from consentry.services.publish.site import MANIFEST_NAME, Site, build_site, write_site

__all__ = ["Crawler", "MANIFEST_NAME", "Site", "build_site", "check_site", "load_crawlers", "site_warnings", "write_site"]

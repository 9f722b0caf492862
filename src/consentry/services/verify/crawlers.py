"""Moved to :mod:`consentry.formats.crawlers` (one list for publish and verify); kept so old imports work.

``load_crawlers`` here is :func:`consentry.formats.crawlers.select_crawlers`
(it returns the crawlers and where the list came from).
"""

from consentry.formats.crawlers import PURPOSE_USES, Crawler, crawlers_from
from consentry.formats.crawlers import select_crawlers as load_crawlers

__all__ = ["Crawler", "PURPOSE_USES", "load_crawlers", "crawlers_from"]

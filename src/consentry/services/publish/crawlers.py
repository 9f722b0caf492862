"""Moved to :mod:`consentry.formats.crawlers` (one list for publish and verify); kept so old imports work."""

from consentry.formats.crawlers import Crawler, load_crawlers, parse_crawlers

__all__ = ["Crawler", "load_crawlers", "parse_crawlers"]

"""Moved to :mod:`consentry.formats.rsl` (RSL written and read in one place); kept so old imports work."""

from ..formats.rsl import (MAX_ELEMENTS, RSL_NAMESPACE, RslDocument, UnsafeXml, XmlNode,  # noqa: F401
                           parse_xml_safely, read_rsl, rsl_signals)

"""Moved to :mod:`consentry.formats.rsl` (RSL written and read in one place); kept so old imports work."""

from consentry.formats.rsl import (
    MAX_ELEMENTS, RSL_NAMESPACE, RslDocument, UnsafeXml, XmlNode, parse_xml_safely, read_rsl, rsl_signals,
)

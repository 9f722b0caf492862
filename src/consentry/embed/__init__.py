"""Terms embedded in media files: write them (``consentry embed``), read them back (``consentry verify``).

See docs/embed.md for what is written where, the vocabularies and their
versions.

>>> result = embed_terms("song.wav", work, terms_url="https://example.org/terms/works/87c2.html")  # doctest: +SKIP
>>> signals, problems = read_embedded_signals("song.wav")  # doctest: +SKIP
"""

from .api import EmbeddedSignals, EmbedError, EmbedResult, SignerConfig, embed_terms, read_embedded_signals, signals_from_xmp
from .iscc import iscc_codes
from .sniff import KINDS, sniff_kind

__all__ = ["EmbedError", "EmbedResult", "EmbeddedSignals", "SignerConfig", "embed_terms", "read_embedded_signals", "iscc_codes",
           "signals_from_xmp", "KINDS", "sniff_kind"]

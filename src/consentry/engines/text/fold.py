"""The character table behind text normalisation: class and folded form of every BMP code point.

One table, built from the Unicode database by :func:`build_fold_table` and
shipped as ``fold_table.npz`` beside this module (written by
``tools/make_text_fold.py``), so that the engine's output does not change
when Python's Unicode version does.  A test rebuilds the table and compares
it with the shipped file when the Unicode versions agree.

For each code point ``cp < 0x10000``:

``cls[cp]`` (uint8)
    :data:`SEP` (0): a separator (spaces, line breaks, control characters,
    astral code points); :data:`WORD` (1): part of a word; :data:`JOIN` (2):
    punctuation or a symbol (Unicode categories P and S, and the
    apostrophes, hyphens and full stop of :data:`JOINERS`) that folds to
    nothing: a run of them between two word characters is removed
    (``don't`` -> ``dont``, ``well-known`` -> ``wellknown``, ``U.S`` -> ``us``,
    ``loop.is_closed()`` -> ``loopisclosed``, ``f(x)`` -> ``fx``,
    ``:meth:`x``` -> ``methx``), and anywhere else it separates words (engine
    version 2; version 1 removed a single apostrophe, hyphen or full stop
    only), so that a copy whose punctuation was deleted has the same words;
    :data:`DROP` (3): removed (combining marks,
    format characters such as the soft hyphen and zero-width joiners);
    :data:`SOLO` (4): Han ideographs and kana (scripts written without
    spaces), cut into chunks of about two characters by their content
    (engine version 3, :mod:`.winnowing`; version 2: a word each).
``length[cp]`` (uint8, 0-4) and ``folded[cp, :length]`` (uint16)
    The folded form: NFKD, combining marks removed, case-folded, only
    letters and digits kept, at most 4 code points (``ﬁ`` -> ``fi``,
    ``ß`` -> ``ss``, ``Ａ`` -> ``a``, ``é`` -> ``e``).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

SEP, WORD, JOIN, DROP, SOLO = 0, 1, 2, 3, 4
MAX_FOLD = 4
#: Characters removed between two word characters and separators elsewhere (with every other punctuation and
#: symbol character that folds to nothing: ``build_fold_table``).
JOINERS = "'\u2019\u02bc\u2018`\u00b4-\u2010\u2011."
TABLE_PATH = Path(__file__).with_name("fold_table.npz")

_SOLO_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


def _fold_char(ch: str) -> str:
    s = unicodedata.normalize("NFKD", ch)
    s = "".join(c for c in s if unicodedata.category(c) not in ("Mn", "Me"))
    s = unicodedata.normalize("NFKD", s.casefold())
    return "".join(c for c in s if (c.isalnum() or unicodedata.category(c) == "Mc") and ord(c) < 0x10000)


def build_fold_table() -> dict[str, np.ndarray]:
    """The table from this Python's Unicode database.

    Returns
    -------
    dict
        ``cls`` uint8 (65536,), ``length`` uint8 (65536,), ``folded`` uint16
        (65536, 4), ``unicode_version`` (a 0-d str array).
    """
    cls = np.zeros(0x10000, np.uint8)
    length = np.zeros(0x10000, np.uint8)
    folded = np.zeros((0x10000, MAX_FOLD), np.uint16)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if ch in JOINERS:
            cls[cp] = JOIN
            continue
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            cls[cp] = DROP
            continue
        f = _fold_char(ch)[:MAX_FOLD]
        if not f:
            if unicodedata.category(ch)[0] in "PS":
                cls[cp] = JOIN
            continue
        cls[cp] = SOLO if any(lo <= cp <= hi for lo, hi in _SOLO_RANGES) else WORD
        length[cp] = len(f)
        folded[cp, :len(f)] = [ord(c) for c in f]
    return {"cls": cls, "length": length, "folded": folded,
            "unicode_version": np.array(unicodedata.unidata_version)}


@lru_cache(maxsize=1)
def fold_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The shipped table: ``(cls, length, folded, unicode_version)`` (see the module docstring)."""
    with np.load(TABLE_PATH, allow_pickle=False) as z:
        return z["cls"], z["length"], z["folded"], str(z["unicode_version"])

"""Frozen parameters of the text engine, its name and version.

Every field that changes a fingerprint or a finding is here, with its unit
in its name; :meth:`TextEngineParams.param_hash` covers them all and is
stored with every text fingerprint and index segment.  ``ENGINE_VERSION``
changes whenever the output for the same parameters changes (the
normalisation, the hashing, the character table ``fold_table.npz``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache

ENGINE_NAME = "consentry-text-winnow"
#: 2: a run of punctuation and symbols between two word characters is removed (1: one apostrophe, hyphen or
#: full stop only), so copies with their punctuation deleted keep their words.
#: 3: Han ideographs and kana are cut into chunks of about two characters by their content (2: one word each),
#: white space between two of them ignored (:mod:`.winnowing`).  Text without them gives version 2's words.
ENGINE_VERSION = "3"
#: The parameters that change fingerprints and postings (and so the parameter hash).
INDEX_FIELDS = ("shingle_words", "winnow_window")


@dataclass(frozen=True)
class TextEngineParams:
    """What the text engine computes and decides with.

    Attributes
    ----------
    shingle_words : int
        Words per shingle (k): a shingle is k consecutive normalised words.
    winnow_window : int
        Winnowing window (w), in shingles: the registered side keeps the
        smallest hash of every w consecutive shingles, so any common run of
        at least ``shingle_words + winnow_window - 1`` words is seen by at
        least one posting, and about ``2 / (w + 1)`` of the shingles are kept.
    min_seeds : int
        Least weight of the shared shingles (seeds) on one alignment for a
        passage; a seed weighs ``1 / c`` when ``c`` registered works hold it.
    miss_weight : float
        What each anchor missed between a passage's first and last seed
        takes off its seed weight (:mod:`.match`, "Anchors and missed
        anchors"): a passage spanning a window or more counts when
        ``weight - miss_weight * missed`` reaches ``min_seeds``.  Fitted (``benchmarks/fit_text_rule.py``,
        ``benchmarks/fits/text_rule.json``, ``tests/engines/test_text_constants.py``).
    min_short_passage_words : int
        A passage whose seeds lie within one window (fewer than
        ``winnow_window`` shingles apart, so that no anchor lies wholly
        between them) counts only when its seeds agree exactly on the
        offset between the texts (no edit between them) and from this many
        matched words.  Fitted with ``miss_weight``.
    min_anchor_seeds : int
        Fewest seeds of a passage that are anchors of the query (the
        smallest hash of one of its windows of ``winnow_window`` shingles):
        a copy of ``shingle_words + winnow_window - 1`` words or more holds
        one by the winnowing guarantee (:mod:`.match`); not fitted.
    min_passage_words : int
        Default decision rule: fewest query words from the first seed's
        first word to the last seed's last word (``matched_words``); the user
        may set another with ``min_score``.
    max_gap_words : int
        Largest gap, in query words, between two seeds of one passage; also
        how far from an anchor that is a seed the other shingles are looked
        up (:func:`.match.find_seeds`).
    drift_chars : int
        Fixed tolerance, in characters, for how far two seeds of one passage
        may disagree on the offset between query and work.
    drift_per_char : float
        Tolerance growing with their distance in the query (characters per
        character): re-flowed, re-punctuated and edited copies drift.
    common_min_works : int
        A shingle held by at least this many registered works is common
        (licence notices, legal boilerplate, famous quotations) and makes no
        finding; learned from the registry's own postings at each lookup.
    max_postings_per_key : int
        A key with more postings than this in one segment is skipped unread
        (common by any measure).
    """

    shingle_words: int = 5
    winnow_window: int = 16
    min_seeds: int = 2
    miss_weight: float = 0.05
    min_short_passage_words: int = 12
    min_anchor_seeds: int = 1
    min_passage_words: int = 12
    max_gap_words: int = 80
    drift_chars: int = 24
    drift_per_char: float = 0.1
    common_min_works: int = 8
    max_postings_per_key: int = 4096

    def __post_init__(self) -> None:
        if self.shingle_words < 1 or self.winnow_window < 1:
            raise ValueError("shingle_words and winnow_window must be at least 1")
        if self.miss_weight < 0:
            raise ValueError("miss_weight must not be negative")
        if self.min_seeds < 1 or self.common_min_works < 2:
            raise ValueError("min_seeds must be at least 1 and common_min_works at least 2")

    def param_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the fields in :data:`INDEX_FIELDS`.

        Only the fields that change what the index holds are covered: an index
        made with other search settings (seeds, passage length, drift, common
        works) is the same index, and needs no reindex.
        """
        return _param_hash(self)


@lru_cache(maxsize=64)
def _param_hash(params: TextEngineParams) -> str:
    """:meth:`TextEngineParams.param_hash`, once per parameters (an engine's ``id`` is asked for per scanned item)."""
    blob = json.dumps({k: v for k, v in asdict(params).items() if k in INDEX_FIELDS},
                      sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


DEFAULT_PARAMS = TextEngineParams()

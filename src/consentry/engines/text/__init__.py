"""The text engine: winnowed word shingles, located passages (``docs/text.md``).

==================  ============================================================================
interface           text engine
==================  ============================================================================
``id``              ``consentry-text-winnow`` / ``ENGINE_VERSION`` / ``TextEngineParams.param_hash()``
``sniff``           :func:`.read.sniff_kind`: plain text, Markdown, HTML, EPUB, PDF, DOCX, by content
``decode``          :func:`.read.extract_text`: one ``str``; offsets are code points into it
``fingerprint``     every ``shingle_words``-word shingle of the normalised words, winnowed
                    (``winnow_window``); ``fields``: ``start_char`` (int64), ``check`` (int64)
``postings``        ``fp_id << 38 | start_char << 12 | check`` (:func:`.winnowing.pack_postings`)
``query_print``     every shingle of the query (not winnowed): :class:`.match.TextQuery`
``candidates``      :func:`.match.lookup`: seeds, shingles common in the registry left out
``verify``          :func:`.match.chain_seeds`: seeds on one alignment, as passages
``min_score_for``   ``params.min_passage_words`` (matched words; the user may pass another)
==================  ============================================================================

A :class:`Located` text match has ``query`` and ``work`` extents in
characters (code points of each side's extracted text, end exclusive), a
:class:`TextExtra` and, with ``with_evidence``, the seeds behind it.  The
extents run from the first seed's first word to the last seed's last word;
:meth:`TextEngine.align` refines them word by word when both texts are at
hand (check, evidence), tolerating replaced, inserted and deleted words.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Sequence

import numpy as np

from ..base import EngineId, Extent, Fingerprint, Located, SegmentLike, Signal, Source
from .match import Chain, Seeds, TextQuery, chain_seeds, find_seeds
from .params import DEFAULT_PARAMS, ENGINE_NAME, ENGINE_VERSION, TextEngineParams
from .read import extract_text, read_bytes, sniff_kind
from .winnowing import Words, check_of, key_of, pack_postings, shingles, unpack_postings, window_minima, winnow, words

__all__ = ["TextEngine", "TextExtra", "TextSeed", "Alignment", "TextEngineParams", "DEFAULT_PARAMS",
           "ENGINE_NAME", "ENGINE_VERSION"]

MEDIUM = "text"


@dataclass(frozen=True)
class TextExtra:
    """What a text match says beyond its extents.

    Attributes
    ----------
    matched_words : int
        Query words of the passage: from the first seed's first word to the
        last seed's last word (after :meth:`TextEngine.align`: the words the
        two texts share in the aligned passage).
    seeds : int
        Shared shingles behind the passage.
    common_shingles : int
        Query shingles left out because many registered works hold them.
    missed_anchors : int
        The query's anchors between the first and last seed that the work
        does not hold there (:mod:`.match`): where the copy was edited.
    anchor_seeds : int
        Seeds that are anchors of the query (a passage counts only with
        ``min_anchor_seeds`` of them).
    exact : bool
        Whether the seeds agree exactly on the offset between the texts (a
        short passage counts only so).
    work_share : float or None
        Share of the work's characters the passage covers, in [0, 1], when
        the work's length is known (:meth:`TextEngine.with_work_length`).
    aligned : bool
        Whether the extents come from :meth:`TextEngine.align`.
    """

    matched_words: int
    seeds: int
    common_shingles: int = 0
    missed_anchors: int = 0
    anchor_seeds: int = 0
    exact: bool = False
    work_share: float | None = None
    aligned: bool = False


@dataclass(frozen=True)
class TextSeed:
    """One shared shingle: its key, where it starts and ends in the query and starts in the work (chars),
    and how many registered works hold it."""

    key: int
    query_start_char: int
    query_end_char: int
    work_start_char: int
    works_holding: int = 1


@dataclass(frozen=True)
class Alignment:
    """Two passages aligned word by word (:meth:`TextEngine.align`).

    Attributes
    ----------
    query_start_char, query_end_char, work_start_char, work_end_char : int
        The aligned passage in each text (end exclusive).
    matched_words : int
        Words equal on both sides after normalisation.
    ops : list of tuple
        ``(op, q0, q1, w0, w1)`` in character offsets, in order: ``op`` is
        ``"equal"``, ``"replace"``, ``"delete"`` (words only in the query)
        or ``"insert"`` (words only in the work).
    """

    query_start_char: int
    query_end_char: int
    work_start_char: int
    work_end_char: int
    matched_words: int
    ops: list


@dataclass(frozen=True)
class TextEngine:
    """Winnowed word shingles as a :class:`~consentry.engines.base.MediaEngine` (``docs/text.md``).

    Parameters
    ----------
    params : TextEngineParams
        Frozen parameters (default: version 1's).
    """

    params: TextEngineParams = DEFAULT_PARAMS
    medium: str = MEDIUM
    #: Asked after the magic-byte sniffers (audio, images): text claims whatever decodes as text.
    sniff_order: ClassVar[int] = 90
    #: Suffixes a folder walk or an archive takes as text items (content still decides).
    extensions: ClassVar[tuple[str, ...]] = (".txt", ".text", ".md", ".markdown", ".rst", ".html", ".htm",
                                             ".xhtml", ".epub", ".pdf", ".docx")

    @property
    def id(self) -> EngineId:
        return EngineId(ENGINE_NAME, ENGINE_VERSION, self.params.param_hash())

    # -- input ------------------------------------------------------------------
    def sniff(self, head: bytes, *, name: str | None = None) -> bool:
        """True when the bytes are a text document: plain text, Markdown, HTML, EPUB, PDF or DOCX."""
        return sniff_kind(head, name=name) is not None

    def decode(self, source: Source, *, max_extent: float | None = None, name: str | None = None,
               kind: str | None = None) -> Signal:
        """Extract the text of a document (:mod:`.read`); ``max_extent`` in characters.

        ``kind``: the document kind when the caller sniffed it already (:func:`.read.sniff_kind` of its
        first 512 bytes, as a scan does for a text row), else None.

        Raises :class:`~consentry.domain.errors.DecodeError` (one line naming the input).
        """
        data, label = read_bytes(source, name=name)
        text, _ = extract_text(data, label=label, kind=kind)
        if max_extent is not None:
            text = text[:int(max_extent)]
        return self.signal(text)

    def signal(self, text: str) -> Signal:
        """Wrap an already extracted text as a :class:`Signal` (``extent = (len(text),)`` characters)."""
        return Signal(MEDIUM, text, 1.0, (float(len(text)),), "char")

    @staticmethod
    def title_of(signal: Signal) -> str | None:
        """A title the text gives itself, else None (the caller names the work after its file): a Markdown
        heading (``# Title``) among its first lines, or a first line of at most 80 characters, not ending a
        sentence, followed by a blank line."""
        lines = str(signal.data[:4000]).splitlines()
        for line in lines[:20]:
            if line.lstrip().startswith("#") and line.strip("# \t"):
                return line.strip("# \t")[:120]
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            return None
        line = lines[first].strip()
        blank_after = first + 1 >= len(lines) or not lines[first + 1].strip()
        if len(line) <= 80 and blank_after and line[-1] not in ".,;:!?":
            return line
        return None

    def _text(self, signal: Signal) -> str:
        if signal.medium != MEDIUM or not isinstance(signal.data, str):
            raise ValueError(f"the text engine needs text, not {signal.medium}")
        return signal.data

    # -- fingerprints and the index ---------------------------------------------
    def words(self, text: str) -> Words:
        """The normalised words of ``text`` with their character offsets (:func:`.winnowing.words`)."""
        return words(text)

    def fingerprint(self, signal: Signal) -> Fingerprint:
        """Winnowed shingles of a registered text: ``keys`` uint32, ``fields["start_char"]`` and
        ``fields["check"]`` int64, all of shape (m,); ``m`` is about ``2 / (winnow_window + 1)`` of its words."""
        sh = shingles(words(self._text(signal)), shingle_words=self.params.shingle_words)
        keep = winnow(sh.hashes, window=self.params.winnow_window)
        h = sh.hashes[keep]
        fields = {"start_char": sh.start_char[keep].astype(np.int64), "check": check_of(h).astype(np.int64)}
        return Fingerprint(self.id, key_of(h), fields, signal.extent, "char")

    def postings(self, fp: Fingerprint, *, fp_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)``: values are ``fp_id << 38 | start_char << 12 | check``."""
        if fp.engine != self.id:
            raise ValueError(f"a fingerprint of {fp.engine} cannot go into an index of {self.id}")
        return fp.keys, pack_postings(fp_id, fp.fields["start_char"], fp.fields["check"])

    def fp_ids(self, values: np.ndarray) -> np.ndarray:
        return unpack_postings(values)[0]

    # -- search -----------------------------------------------------------------
    def query_print(self, signal: Signal) -> TextQuery:
        """Every shingle of the query text, not winnowed."""
        text = self._text(signal)
        w = words(text)
        sh = shingles(w, shingle_words=self.params.shingle_words)
        return TextQuery(sh, len(w), len(text), window_minima(sh.hashes, window=self.params.winnow_window))

    def candidates(self, query: TextQuery, segments: Sequence[SegmentLike], *, with_keys: bool = False) -> Seeds:
        """Seeds: postings the query's shingles reach (key and check agree), common shingles left out; the
        query's anchors first, then the shingles near those that are seeds (:func:`.match.find_seeds`)."""
        return find_seeds(query, segments, self.params)

    def verify(self, candidates: Seeds, query: TextQuery, *, min_score: float, searched: float,
               with_evidence: bool = False, max_evidence: int | None = None) -> list[Located[TextExtra]]:
        """Passages of at least ``min_score`` matched words whose seed weight, less ``params.miss_weight`` per
        missed anchor, reaches ``params.min_seeds``; best first."""
        out = []
        for found in chain_seeds(candidates, query, self.params):
            m = self.passage(found, query, searched=searched, common_shingles=candidates.common_shingles,
                             with_evidence=with_evidence, max_evidence=max_evidence)
            if m.score >= min_score:
                out.append(m)
        out.sort(key=lambda m: (-m.score, m.fp_id, m.query.start[0]))
        return out

    def passage(self, chain: Chain, query: TextQuery, *, searched: float, common_shingles: int = 0,
                with_evidence: bool = False, max_evidence: int | None = None) -> Located[TextExtra]:
        """One candidate passage (:class:`.match.Chain`) as a match: extents from its first seed's first word
        to its last seed's last word, ``score`` = ``matched_words``, whether it counts or not."""
        k = self.params.shingle_words
        sh = query.shingles
        chain_rows = chain.seeds
        qs = [q for q, _, _, _ in chain_rows]
        matched = qs[-1] + k - qs[0]
        q0 = int(sh.start_char[qs[0]])
        q1 = int(sh.end_char[qs[-1]])
        w0 = min(c[1] for c in chain_rows)
        w1 = max(w + int(sh.end_char[q] - sh.start_char[q]) for q, w, _, _ in chain_rows)
        evidence = None
        if with_evidence:
            rows = [TextSeed(kk, int(sh.start_char[q]), int(sh.end_char[q]), w, hold) for q, w, kk, hold in chain_rows]
            evidence = rows if max_evidence is None else rows[:max_evidence]
        return Located(
            fp_id=int(chain.fp_id), score=float(matched),
            confidence=self.confidence(matched, searched=searched),
            query=Extent.span(q0, q1, unit="char"), work=Extent.span(w0, w1, unit="char"),
            extra=TextExtra(matched_words=int(matched), seeds=len(chain_rows), common_shingles=int(common_shingles),
                            missed_anchors=int(chain.missed), anchor_seeds=int(chain.anchors), exact=bool(chain.exact)),
            evidence=evidence)

    def locate(self, signal: Signal, segments: Sequence[SegmentLike], *, min_score: float | None = None,
               searched: float | None = None, with_evidence: bool = False,
               max_evidence: int | None = None) -> list[Located[TextExtra]]:
        """Every passage of an indexed work found in ``signal`` (``searched`` in characters)."""
        searched = signal.size if searched is None else searched
        threshold = self.min_score_for(searched) if min_score is None else min_score
        query = self.query_print(signal)
        return self.verify(self.candidates(query, segments), query, min_score=threshold, searched=searched,
                           with_evidence=with_evidence, max_evidence=max_evidence)

    def locate_many(self, signals: Sequence[Signal], segments: Sequence[SegmentLike], *,
                    min_score: float | None = None) -> list[list[Located[TextExtra]]]:
        """:meth:`locate` of every signal (no evidence rows), the texts of the batch read and looked up
        together (:mod:`.batch`): the same matches, without the fixed cost of each call per text."""
        from .batch import locate_many

        return locate_many(self, [self._text(s) for s in signals], segments, min_score=min_score)

    # -- refinement with both texts ---------------------------------------------
    def align(self, query_text: str, work_text: str, match: Located[TextExtra], *,
              max_edit_words: int = 8, max_words: int = 50_000) -> Alignment | None:
        """Align a located passage word by word, given both extracted texts.

        The located extents are widened by ``shingle_words + winnow_window``
        words on each side (a passage may begin or end up to that far from
        its outer seeds), the normalised words of both sides are aligned
        (:class:`difflib.SequenceMatcher` on word hashes), and the passage is
        the run of equal blocks around the seeds whose gaps are at most
        ``max_edit_words`` words on either side, without blocks of fewer than
        3 words at its ends (chance agreement of common words).  None when a side holds
        more than ``max_words`` words (the located extents then stand).
        """
        margin = self.params.shingle_words + self.params.winnow_window
        qw, ww = words(query_text), words(work_text)
        qa, qb = _word_window(qw, match.query.as_span(), margin)
        wa, wb = _word_window(ww, match.work.as_span(), margin)
        if qb - qa > max_words or wb - wa > max_words or qb <= qa or wb <= wa:
            return None
        qh, wh = qw.hashes[qa:qb].tolist(), ww.hashes[wa:wb].tolist()
        blocks = [b for b in difflib.SequenceMatcher(None, qh, wh, autojunk=False).get_matching_blocks() if b.size]
        if not blocks:
            return None
        runs: list[list] = [[blocks[0]]]
        for b in blocks[1:]:
            p = runs[-1][-1]
            if b.a - (p.a + p.size) <= max_edit_words and b.b - (p.b + p.size) <= max_edit_words:
                runs[-1].append(b)
            else:
                runs.append([b])
        best = max(runs, key=lambda r: sum(b.size for b in r))
        # A word or two equal by chance just outside the copy ("and", "the") does not extend it.
        while len(best) > 1 and best[0].size < 3:
            best = best[1:]
        while len(best) > 1 and best[-1].size < 3:
            best = best[:-1]
        ops = []
        for i, b in enumerate(best):
            if i:
                p = best[i - 1]
                ga, gb = (p.a + p.size, b.a), (p.b + p.size, b.b)
                op = "replace" if ga[0] < ga[1] and gb[0] < gb[1] else ("delete" if ga[0] < ga[1] else "insert")
                ops.append((op, *_chars(qw, qa + ga[0], qa + ga[1]), *_chars(ww, wa + gb[0], wa + gb[1])))
            ops.append(("equal", *_chars(qw, qa + b.a, qa + b.a + b.size), *_chars(ww, wa + b.b, wa + b.b + b.size)))
        first, last = best[0], best[-1]
        return Alignment(
            query_start_char=int(qw.start_char[qa + first.a]),
            query_end_char=int(qw.end_char[qa + last.a + last.size - 1]),
            work_start_char=int(ww.start_char[wa + first.b]),
            work_end_char=int(ww.end_char[wa + last.b + last.size - 1]),
            matched_words=int(sum(b.size for b in best)), ops=ops)

    def aligned(self, match: Located[TextExtra], alignment: Alignment) -> Located[TextExtra]:
        """``match`` with the extents and matched words of ``alignment``."""
        return replace(match, score=float(alignment.matched_words),
                       query=Extent.span(alignment.query_start_char, alignment.query_end_char, unit="char"),
                       work=Extent.span(alignment.work_start_char, alignment.work_end_char, unit="char"),
                       extra=replace(match.extra, matched_words=alignment.matched_words, aligned=True))

    def refine(self, query: Signal, match: Located[TextExtra], work: Signal) -> Located[TextExtra]:
        """``match`` aligned word by word with the registered work's extracted text (:meth:`align`), its
        work share set; unchanged when the alignment cannot be made (a side too long, nothing equal)."""
        al = self.align(self._text(query), self._text(work), match)
        refined = self.aligned(match, al) if al is not None else match
        return self.with_work_length(refined, len(work.data))

    @staticmethod
    def with_work_length(match: Located[TextExtra], work_chars: int) -> Located[TextExtra]:
        """``match`` with ``extra.work_share``: its work extent over ``work_chars`` (the work's length)."""
        w0, w1 = match.work.as_span()
        share = min(1.0, max(0.0, (min(w1, work_chars) - w0) / work_chars)) if work_chars > 0 else 0.0
        return replace(match, extra=replace(match.extra, work_share=round(share, 4)))

    def match_fields(self, match: Located[TextExtra], *, work: Any = None) -> dict[str, Any]:
        """The fields of a text match in ``consentry identify --json`` (docs/text.md, "Offsets").

        ``work_share`` is the share of the work's characters the passage
        covers, from the work's stored size (``work.duration_s`` holds a text
        work's length in characters), or the match's own when already set.
        """
        if work is not None and match.extra.work_share is None:
            match = self.with_work_length(match, int(getattr(work, "duration_s", 0) or 0))
        q0, q1 = match.query.as_span()
        w0, w1 = match.work.as_span()
        e = match.extra
        return {"query_start_char": int(q0), "query_end_char": int(q1), "work_start_char": int(w0),
                "work_end_char": int(w1), "matched_words": int(e.matched_words), "seeds": int(e.seeds),
                "work_share": e.work_share, "common_shingles": int(e.common_shingles), "aligned": bool(e.aligned)}

    # -- decision and evidence --------------------------------------------------
    def min_score_for(self, searched: float) -> float:
        """Fewest matched words for a finding, whatever the query's size (``params.min_passage_words``).

        Chance agreement of two or more 44-bit shingle hashes on one
        alignment is negligible at any query size; what a threshold guards
        against is short shared phrases, which do not grow with the query.
        """
        return float(self.params.min_passage_words)

    def confidence(self, score: float, *, searched: float) -> float:
        """``1 - 2 ** -(score / min_passage_words)`` of the matched words: 0.5 at the default
        threshold, 0.94 at four times it; an ordering, not a calibrated probability."""
        return float(round(1.0 - 0.5 ** (max(0.0, score) / max(1, self.params.min_passage_words)), 4))

    def evidence_facts(self, match: Located[TextExtra]) -> dict[str, Any]:
        """Engine id, both extents in characters, matched words, seeds and, when asked for, the seed rows.

        ``matched_shingles`` rows are ``{hash, query_start_char,
        query_end_char, work_start_char}``: recomputing the query's shingles
        with the engine gives the same keys at those offsets.
        """
        q0, q1 = match.query.as_span()
        w0, w1 = match.work.as_span()
        e = match.extra
        facts: dict[str, Any] = {
            "medium": MEDIUM, "engine": self.id.as_dict(), "fp_id": match.fp_id, "score": match.score,
            "confidence": match.confidence, "query_start_char": int(q0), "query_end_char": int(q1),
            "work_start_char": int(w0), "work_end_char": int(w1), "matched_words": e.matched_words,
            "seeds": e.seeds, "common_shingles": e.common_shingles, "missed_anchors": e.missed_anchors,
            "anchor_seeds": e.anchor_seeds, "exact": e.exact,
            "work_share": e.work_share, "aligned": e.aligned,
        }
        if match.evidence is not None:
            facts["matched_shingles"] = [
                {"hash": s.key, "query_start_char": s.query_start_char, "query_end_char": s.query_end_char,
                 "work_start_char": s.work_start_char, "works_holding": s.works_holding} for s in match.evidence]
        return facts


def _word_window(w: Words, span: tuple[float, float], margin: int) -> tuple[int, int]:
    a = int(np.searchsorted(w.start_char, span[0], side="left")) - margin
    b = int(np.searchsorted(w.start_char, span[1], side="left")) + margin
    return max(0, a), min(len(w), b)


def _chars(w: Words, a: int, b: int) -> tuple[int, int]:
    """Character span of words ``a .. b-1`` (an empty span at the next word's start when ``a == b``)."""
    if a >= b:
        pos = int(w.start_char[a]) if a < len(w) else (int(w.end_char[-1]) if len(w) else 0)
        return pos, pos
    return int(w.start_char[a]), int(w.end_char[b - 1])

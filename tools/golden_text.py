"""The text engine's golden vector (``tests/data/golden/text.npz``), written by ``tools/make_golden.py --only text``.

``text.npz`` holds
    ``work`` uint8: the UTF-8 bytes of a 2,400-word text written by
    :func:`text_input` (sentences drawn with a fixed seed from a small
    vocabulary, with ligatures, accents, curly apostrophes, hyphenated line
    ends and a CJK run, so that every normalisation rule is exercised);
    ``query`` uint8: the UTF-8 bytes of an altered excerpt of it (words
    1,000-1,200, upper-cased, one line, every 10th word replaced, inside
    unrelated words);
    ``keys`` uint32, ``start_char`` int64, ``check`` int64: the work's
    fingerprint; ``word_sha256``: the digest of its word hashes and offsets;
    ``match`` float64 (k, 7): fp_id, score, query start/end, work start/end
    (chars), seeds, of locating the query in an index of the work alone;
    ``engine``: ``name/version/param_hash``.
Compared exactly.
"""

from __future__ import annotations

import hashlib

import numpy as np

TEXT_INPUTS = ("work", "query")

_VOCAB = ("consent river lantern quietly archive measure harbour ledger orchard weaving signal copper meadow "
          "distant ferry glass winter record ballad thistle morning engine spiral granite patient velvet "
          "oﬀer ﬁeld naïve café coöperate façade don’t can’t it’s well-known self-made re-enter "
          "Straße ÉCOLE Ａｒｃｈｉｖｅ").split()


def text_input() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261207)
    words = [str(rng.choice(_VOCAB)) for _ in range(2400)]
    lines, line = [], []
    for i, w in enumerate(words):
        line.append(w.capitalize() if i % 13 == 0 else w)
        if i % 13 == 12:
            line[-1] += "."
        if len(line) >= 11:
            if i % 7 == 0 and len(line[-1]) > 5 and line[-1].isalpha():
                cut = len(line[-1]) // 2
                line[-1] = line[-1][:cut] + "-\n" + line[-1][cut:]
                lines.append(" ".join(line))
            else:
                lines.append(" ".join(line) + "\n")
            line = []
    lines.append(" ".join(line) + " 日本語の文章です。\n")
    work = "".join(lines)
    excerpt = work.split()[1000:1200]
    altered = [("REPLACED" if j % 10 == 5 else w.upper()) for j, w in enumerate(excerpt)]
    query = "Unrelated opening words here, " + " ".join(altered) + " and an unrelated close."
    return {"work": np.frombuffer(work.encode(), np.uint8), "query": np.frombuffer(query.encode(), np.uint8)}


def text_expected(inputs) -> dict[str, np.ndarray]:
    from consentry.engines.text import TextEngine
    from consentry.engines.text.winnowing import words
    from consentry.store.segments import IndexSegment, build_directory

    e = TextEngine()
    work = bytes(inputs["work"]).decode()
    query = bytes(inputs["query"]).decode()
    fp = e.fingerprint(e.signal(work))
    w = words(work)
    h = hashlib.sha256()
    for a in (w.hashes.astype("<u8"), w.start_char.astype("<i8"), w.end_char.astype("<i8")):
        h.update(np.ascontiguousarray(a).tobytes())
    keys, values = e.postings(fp, fp_id=1)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    found = e.locate(e.signal(query), [IndexSegment(k, values[order], *build_directory(k))])
    match = np.array([[m.fp_id, m.score, *m.query.as_span(), *m.work.as_span(), m.extra.seeds] for m in found],
                     dtype=np.float64).reshape(-1, 7)
    return {"keys": fp.keys.astype(np.uint32), "start_char": fp.fields["start_char"].astype(np.int64),
            "check": fp.fields["check"].astype(np.int64), "word_sha256": np.array(h.hexdigest()),
            "match": match, "engine": np.array(str(e.id))}

"""Fiddle tunes printed in two collections: a fourth held-out set for run_melody_real.py (issue 21, session 7).

music21's corpus (PyPI, installed into its own environment by ``benchmarks/fetch_melody_midi.sh``; not a project
dependency) holds two 19th/early-20th-century collections of dance tunes in ABC notation: O'Neill's *Music of
Ireland* (``oneills1850``) and *Ryan's Mammoth Collection* (``ryansMammoth``), edited independently. Many tunes
are in both, each in its own editor's setting (its own key, ornaments, turns, bowing, often varied notes): *the same
tune that recurs*, written down twice. The settings are single melody lines, so this set is not two harmonisations
(as the chorales were): as written, the skyline and the top voice are the same line, and what the set tests is
how each does on tunes nobody here has fitted anything on, after rendering and transcription.

Export (with the music21 environment's Python; writes the MIDI files and ``manifest.json``):

    benchmarks/work/music21-venv/bin/python benchmarks/melody_fiddle.py benchmarks/work/melody-real/fiddle

Rules, fixed before any of these tunes was rendered or scored (session 7):

- a tune's *name* is its first title, lower-cased, letters and spaces only, without the words in ``NOISE`` (articles,
  the dance type, "setting"...);
- a *family* is a name that has a tune in both collections with the same metre (``M:``); the first tune of that name
  in each collection (file order) is used;
- roles by a hash of the name (no score enters): the first ``FAMILIES`` families in hash order give a
  ``registered`` tune (O'Neill's setting) and its ``sibling`` (Ryan's setting, where the outputs' phrases are cut);
  the first ``SINGLES`` names found in only one collection (once there) give ``unregistered`` tunes for the
  negatives and the outputs' backgrounds, alternately from Ryan's and O'Neill's;
- tunes whose MIDI has fewer than 20 notes are left out before the ranks are taken.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

FAMILIES = 40
SINGLES = 24
COLLECTIONS = ("oneills1850", "ryansMammoth")
NOISE = frozenset("the a an of reel jig hornpipe strathspey polka waltz air march set dance or no first second "
                  "setting version slip clog schottische quickstep".split())


def name_of(title: str) -> str:
    """A tune's name for families (see the module docstring)."""
    words = re.sub(r"[^a-z ]", "", title.lower()).split()
    return " ".join(w for w in words if w not in NOISE)


def _rank(name: str) -> bytes:
    return hashlib.sha256(f"fiddle/{name}".encode()).digest()


def tunes_of(collection: str) -> list[dict]:
    """Every tune of a corpus collection in file order: ``{"name", "title", "metre", "abc", "file"}``."""
    from music21 import corpus

    out = []
    for path in sorted(corpus.getPaths(fileExtensions=("abc",)), key=str):
        if f"/{collection}/" not in str(path).replace("\\", "/"):
            continue
        text = Path(path).read_text(encoding="latin-1")
        header = ""
        for block in re.split(r"(?m)^(?=X:)", text):
            if not block.startswith("X:"):
                header = block   # a file header (before the first tune) applies to every tune of the file
                continue
            titles = re.findall(r"(?m)^T:\s*(.*)$", block)
            metre = re.findall(r"(?m)^M:\s*(.*)$", block)
            if titles and name_of(titles[0]):
                out.append({"name": name_of(titles[0]), "title": titles[0].strip(),
                            "metre": metre[0].strip() if metre else "", "abc": header + block,
                            "file": f"{collection}/{Path(path).name}"})
    return out


def _midi(tune: dict, path: Path) -> bool:
    """Write the tune (repeats written out where music21 can) as a Standard MIDI File; False if it cannot be parsed
    or has fewer than 20 notes."""
    from music21 import converter

    try:
        score = converter.parse(tune["abc"], format="abc")
        try:
            score = score.expandRepeats()
        except Exception:  # noqa: BLE001 - repeats music21 cannot expand are played once
            pass
        if len(score.flatten().notes) < 20:
            return False
        score.write("midi", fp=str(path))
    except Exception:  # noqa: BLE001 - an ABC tune music21 cannot read is left out
        return False
    return path.exists()


def export(out: Path) -> dict:
    """Write ``out``/<key>.mid for the tunes that have a role and ``out``/manifest.json; returns the manifest."""
    tunes = {c: tunes_of(c) for c in COLLECTIONS}
    first: dict[str, dict[str, dict]] = {c: {} for c in COLLECTIONS}
    count: dict[str, dict[str, int]] = {c: {} for c in COLLECTIONS}
    for c, rows in tunes.items():
        for t in rows:
            first[c].setdefault(t["name"], t)
            count[c][t["name"]] = count[c].get(t["name"], 0) + 1
    oneill, ryan = (first[c] for c in COLLECTIONS)
    families = sorted((n for n in set(oneill) & set(ryan) if oneill[n]["metre"] == ryan[n]["metre"]), key=_rank)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}

    def key(c: str, t: dict) -> str:
        return f"{'oneill' if c == COLLECTIONS[0] else 'ryan'}-" + t["name"].replace(" ", "_")

    used = 0
    for n in families:
        if used == FAMILIES:
            break
        a, b = key(COLLECTIONS[0], oneill[n]), key(COLLECTIONS[1], ryan[n])
        if not (_midi(oneill[n], out / f"{a}.mid") and _midi(ryan[n], out / f"{b}.mid")):
            continue
        used += 1
        manifest[f"fiddle/{a}"] = {"role": "registered", "title": oneill[n]["title"], "file": oneill[n]["file"]}
        manifest[f"fiddle/{b}"] = {"role": "sibling", "of": f"fiddle/{a}", "title": ryan[n]["title"],
                                   "file": ryan[n]["file"]}
    singles = {c: sorted((n for n in first[c] if n not in first[o] and count[c][n] == 1), key=_rank)
               for c, o in zip(COLLECTIONS, reversed(COLLECTIONS))}
    picked, turn = 0, 1
    cursor = {c: 0 for c in COLLECTIONS}
    while picked < SINGLES and any(cursor[c] < len(singles[c]) for c in COLLECTIONS):
        c = COLLECTIONS[turn]
        turn = 1 - turn
        while cursor[c] < len(singles[c]):
            t = first[c][singles[c][cursor[c]]]
            cursor[c] += 1
            if _midi(t, out / f"{key(c, t)}.mid"):
                manifest[f"fiddle/{key(c, t)}"] = {"role": "unregistered", "title": t["title"], "file": t["file"]}
                picked += 1
                break
    (out / "manifest.json").write_text(json.dumps(
        {"tunes_read": {c: len(r) for c, r in tunes.items()}, "families_in_both": len(families),
         "tunes": manifest}, indent=1, ensure_ascii=False))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: melody_fiddle.py OUT_DIR")
    m = export(Path(sys.argv[1]))
    print(json.dumps({role: sum(v["role"] == role for v in m.values())
                      for role in ("registered", "sibling", "unregistered")}))

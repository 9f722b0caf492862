"""Bach's four-part chorales as a third held-out set of tunes for run_melody_real.py (issue 21, session 6).

The chorales come from the corpus of the ``music21`` package (PyPI), the only use of that package here; it is
installed into its own virtual environment by ``benchmarks/fetch_melody_midi.sh``, not into the project's.
Many chorale melodies were harmonised by Bach more than once, so the set holds *the same tune in two
arrangements*: a registered work is one harmonisation, and the outputs copy phrases of another harmonisation of
the same melody (another key, other inner voices and bass, often a varied melody line).

Export (with the music21 environment's Python; writes the MIDI files and ``manifest.json``):

    benchmarks/work/music21-venv/bin/python benchmarks/melody_chorales.py benchmarks/work/melody-real/chorales

A *family* is every chorale sharing either the tune title of music21's Riemenschneider/BWV list or the first 8
soprano intervals (semitones, ties joined). Roles, by a hash of the family's first BWV number (no score enters):

- ``registered`` and ``sibling``: the first two members (BWV order) of up to ``FAMILIES`` families with two or
  more members; the registered one is the work, the outputs' phrases are cut from the sibling;
- ``unregistered``: up to ``SINGLES`` chorales of one-member families, for the negatives and the outputs'
  backgrounds;
- every other chorale is left out, so that no unregistered passage holds a registered melody by construction.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

FAMILIES = 40
SINGLES = 24


def _bwv_key(bwv: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in bwv.replace("-", ".").split("."))


def _rank(text: str) -> bytes:
    return hashlib.sha256(f"chorales/{text}".encode()).digest()


def _families() -> tuple[dict, dict, list[list[str]]]:
    """music21's BWV listing, the parsed four-part chorales ``{bwv: score}``, and the families (lists of BWV
    numbers, BWV order), in hash order of their first member."""
    from music21 import corpus
    from music21.corpus import chorales

    listing = chorales.ChoraleListRKBWV().byBWV
    scores, soprano = {}, {}
    for bwv in sorted(listing, key=_bwv_key):
        try:
            score = corpus.parse(f"bach/bwv{bwv}")
        except Exception:  # noqa: BLE001 - a listed chorale missing from the corpus is left out
            continue
        if len(score.parts) != 4:
            continue
        pitches = [n.pitch.midi for n in score.parts[0].stripTies().flatten().notes if n.isNote]
        if len(pitches) < 20:
            continue
        scores[bwv] = score
        soprano[bwv] = tuple(b - a for a, b in zip(pitches[:8], pitches[1:9]))
    parent = {b: b for b in scores}

    def root(b: str) -> str:
        while parent[b] != b:
            b = parent[b]
        return b

    for key in ("title", "incipit"):
        first: dict = {}
        for b in scores:
            k = listing[b]["title"] if key == "title" else soprano[b]
            if k in first:
                parent[root(b)] = root(first[k])
            else:
                first[k] = b
    families: dict[str, list[str]] = {}
    for b in scores:
        families.setdefault(root(b), []).append(b)
    groups = sorted((sorted(m, key=_bwv_key) for m in families.values()), key=lambda m: _rank(m[0]))
    return listing, scores, groups


def export(out: Path) -> dict:
    """Write ``out``/<bwv>.mid for the chorales that have a role and ``out``/manifest.json; returns the manifest."""
    listing, scores, groups = _families()
    manifest = {}
    pairs = [m for m in groups if len(m) >= 2][:FAMILIES]
    singles = [m for m in groups if len(m) == 1][:SINGLES]
    for members in pairs:
        manifest[f"chorales/bwv{members[0]}"] = {"role": "registered", "title": listing[members[0]]["title"],
                                                 "family_size": len(members)}
        manifest[f"chorales/bwv{members[1]}"] = {"role": "sibling", "of": f"chorales/bwv{members[0]}",
                                                 "title": listing[members[1]]["title"]}
    for (b,) in singles:
        manifest[f"chorales/bwv{b}"] = {"role": "unregistered", "title": listing[b]["title"]}
    out.mkdir(parents=True, exist_ok=True)
    for name in manifest:
        scores[name.split("/bwv", 1)[1]].write("midi", fp=str(out / f"{name.split('/', 1)[1]}.mid"))
    (out / "manifest.json").write_text(json.dumps(
        {"chorales_parsed": len(scores), "families": len(groups), "tunes": manifest}, indent=1, ensure_ascii=False))
    return manifest


def export_dev(out: Path) -> list[list[str]]:
    """Development pairs (session 6, after the held-out run): the first two members of every family with two or
    more members that the held-out set does not use (families after the first ``FAMILIES``), as MIDI files in
    ``out`` and ``out``/pairs.json ``[[registered, other harmonisation], ...]``."""
    _, scores, groups = _families()
    pairs = [m[:2] for m in groups if len(m) >= 2][FAMILIES:]
    out.mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        for b in pair:
            scores[b].write("midi", fp=str(out / f"bwv{b}.mid"))
    (out / "pairs.json").write_text(json.dumps({"pairs": [[f"bwv{a}", f"bwv{b}"] for a, b in pairs]}))
    return pairs


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dev":
        print(json.dumps({"dev_pairs": len(export_dev(Path(sys.argv[2])))}))
        raise SystemExit(0)
    if len(sys.argv) != 2:
        raise SystemExit("usage: melody_chorales.py [--dev] OUT_DIR")
    m = export(Path(sys.argv[1]))
    print(json.dumps({role: sum(v["role"] == role for v in m.values())
                      for role in ("registered", "sibling", "unregistered")}))

"""Dance tunes of Ryan's Mammoth Collection that are not in O'Neill's: a fifth held-out set (issue 21, session 8).

The fourth set (fiddle, benchmarks/melody_fiddle.py) showed the shipped melody check falsely matching most outputs
made of jigs and reels; it is development data since. This set holds dance tunes nobody here has fitted anything
on: tunes of *Ryan's Mammoth Collection* (music21's corpus, ``ryansMammoth``) whose name is in neither O'Neill's
*Music of Ireland* nor the fiddle set's manifest. They are single melody lines; the outputs' phrases are cut from
the registered tune itself (as in the dev half), so a finding is right when it names that tune.

Export (with the music21 environment's Python; writes the MIDI files and ``manifest.json``):

    benchmarks/work/music21-venv/bin/python benchmarks/melody_ryan.py benchmarks/work/melody-real/ryan \\
        benchmarks/work/melody-real/fiddle/manifest.json

With ``--from oneills1850`` the same rules the other way round give a sixth set, ``oneill`` (session 8, prepared
for a later session and not scored): O'Neill's tunes whose name is in neither Ryan's nor the fiddle manifest.

Rules, fixed before any of these tunes was rendered or scored (session 8):

- a tune's *name* (its family) is melody_fiddle.name_of of its first title; only names that occur once in Ryan's,
  never in O'Neill's, and in no tune of the fiddle manifest are candidates;
- roles by a hash of the name (no score enters): in the order of sha256("ryan/" + name), the first ``REGISTERED``
  candidates whose MIDI has at least 20 notes are ``registered`` (phrases cut from the same tune), the next
  ``UNREGISTERED`` are ``unregistered`` (negatives and backgrounds).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from melody_fiddle import COLLECTIONS, _midi, name_of, tunes_of

REGISTERED = 40
UNREGISTERED = 24


def export(out: Path, fiddle_manifest: Path, source: str = "ryansMammoth") -> dict:
    """Write ``out``/<key>.mid for the tunes that have a role and ``out``/manifest.json; returns the manifest.
    ``source``: the collection the tunes come from (the other one's names are left out)."""
    oneill, ryan = (tunes_of(c) for c in COLLECTIONS)
    read = {"oneills1850": len(oneill), "ryansMammoth": len(ryan)}
    prefix = "ryan" if source == "ryansMammoth" else "oneill"
    if source != "ryansMammoth":
        oneill, ryan = ryan, oneill   # below, "ryan" is the source and "oneill" the collection left out
    used = {name_of(v["title"]) for v in json.loads(fiddle_manifest.read_text())["tunes"].values()}
    used |= {t["name"] for t in oneill}
    count: dict[str, int] = {}
    first: dict[str, dict] = {}
    for t in ryan:
        count[t["name"]] = count.get(t["name"], 0) + 1
        first.setdefault(t["name"], t)
    names = sorted((n for n in first if count[n] == 1 and n not in used),
                   key=lambda n: hashlib.sha256(f"{prefix}/{n}".encode()).digest())
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}
    wanted = REGISTERED + UNREGISTERED
    for n in names:
        if len(manifest) == wanted:
            break
        key = f"{prefix}-" + n.replace(" ", "_")
        if not _midi(first[n], out / f"{key}.mid"):
            continue
        role = "registered" if len(manifest) < REGISTERED else "unregistered"
        manifest[f"{prefix}/{key}"] = {"role": role, "title": first[n]["title"], "metre": first[n]["metre"],
                                   "file": first[n]["file"], **({"phrases": "self"} if role == "registered" else {})}
    (out / "manifest.json").write_text(json.dumps(
        {**({} if source == "ryansMammoth" else {"source": source}), "tunes_read": read, "candidates": len(names),
         "tunes": manifest}, indent=1, ensure_ascii=False))
    return manifest


if __name__ == "__main__":
    argv = sys.argv[1:]
    source = "ryansMammoth"
    if argv[:1] == ["--from"] and len(argv) >= 2:
        source, argv = argv[1], argv[2:]
    if len(argv) != 2 or source not in COLLECTIONS:
        raise SystemExit("usage: melody_ryan.py [--from oneills1850|ryansMammoth] OUT_DIR FIDDLE_MANIFEST")
    m = export(Path(argv[0]), Path(argv[1]), source)
    print(json.dumps({role: sum(v["role"] == role for v in m.values()) for role in ("registered", "unregistered")}))

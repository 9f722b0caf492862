"""The same melody in another harmonisation, as written (no audio): skyline against a top-voice line (issue 21).

A diagnosis for the next step, on *development* chorale pairs only (the families that the held-out chorale set
does not use; ``melody_chorales.py --dev``). For each pair (a registered harmonisation, another harmonisation of
its melody), 6 phrases of 8-16 notes of the other harmonisation's line are aligned (shipped matcher and
NULL_MODEL, the phrase alone as the query) with every registered line: the own pair's score tells whether the
phrase is found, the other pairs' give unrelated scores. Two melody lines of the MIDI notes:

- ``skyline``: the highest note starting at each onset group (the benchmark's ground truth and, on
  transcriptions, the check's melody): where the soprano holds while an inner voice moves, the inner voice's
  note is taken;
- ``top_voice``: the same, leaving out an onset group whose highest note lies under a higher note still
  sounding (begun more than 50 ms before and ending more than 50 ms after).

Reported: found at the budget 0.01/pairs, unrelated pairs within it, and found with the cut just below the
(F+1)-th best unrelated pair (F = 0, 1, 5, 15, 50), so that the lines are compared at equal false-match counts.

    benchmarks/work/music21-venv/bin/python benchmarks/melody_chorales.py --dev benchmarks/work/melody-real/chorales-dev
    .venv/bin/python benchmarks/melody_topline.py benchmarks/work/melody-real/chorales-dev
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import melody_midi as mm  # noqa: E402
from fitting import wilson  # noqa: E402

HELD_S = 0.05


def line(song: mm.Song, *, top_voice: bool) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (s, float64) and pitches (MIDI, int16) of the song's skyline, or of its top-voice line."""
    onsets, pitches = [], []
    for group in mm.skyline_indices(song.notes):
        note = song.notes[group[0]]
        if top_voice and any(m.pitch > note.pitch and m.start_s < note.start_s - HELD_S
                             and m.end_s > note.start_s + HELD_S for m in song.notes):
            continue
        onsets.append(note.start_s)
        pitches.append(note.pitch)
    return np.asarray(onsets, float), np.asarray(pitches, np.int16)


def measure(folder: Path, *, phrases: int = 6, seed: int = 21) -> dict:
    from consentry.engines.melody import NULL_MODEL, Melody, best_local_score, contour_of

    pairs = json.loads((folder / "pairs.json").read_text())["pairs"]
    budget = 0.01 / len(pairs)
    out = {"pairs": len(pairs), "phrases_per_pair": phrases, "budget_per_comparison": budget}
    for name in ("skyline", "top_voice"):
        lines = {b: line(mm.read_midi(folder / f"{b}.mid"), top_voice=name == "top_voice") for p in pairs for b in p}
        refs = {a: contour_of(Melody(*lines[a])) for a, _ in pairs}
        own, unrelated = [], []
        for i, (a, b) in enumerate(pairs):
            rng = np.random.default_rng([seed, i])
            onsets, pitches = lines[b]
            for _ in range(phrases):
                length = int(rng.integers(8, 17))
                k0 = int(rng.integers(0, len(onsets) - length))
                q = contour_of(Melody(onsets[k0:k0 + length] - onsets[k0], pitches[k0:k0 + length]))
                for work, ref in refs.items():
                    p = float(NULL_MODEL.false_alarm(best_local_score(q, ref), len(q), len(ref)))
                    (own if work == a else unrelated).append(p)
        own_p, un_p = np.asarray(own), np.sort(unrelated)

        def share(k: int, n: int) -> dict:
            return {"k": k, "n": n, "wilson95": [round(x, 4) for x in wilson(k, n)]}

        out[name] = {"found_at_budget": share(int((own_p <= budget).sum()), own_p.size),
                     "unrelated_within_budget": share(int((un_p <= budget).sum()), un_p.size),
                     "found_at_false_unrelated": {str(f): int((own_p < un_p[f]).sum()) for f in (0, 1, 5, 15, 50)}}
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: melody_topline.py FOLDER (from melody_chorales.py --dev)")
    print(json.dumps(measure(Path(sys.argv[1])), indent=1))

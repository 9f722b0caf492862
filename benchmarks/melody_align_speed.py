"""CPU of the melody check's matching stage, NumPy tables against the compiled loops, in one process.

    nice -n 10 .venv/bin/python benchmarks/melody_align_speed.py --registry REG.db --output OUT.wav \\
        --rounds 3 --out /tmp/melody_align_speed.json

``REG.db`` must hold stored melodies (``consentry works melodies``; it is copied first and only the copy is
opened). The output is transcribed once by ``check_output`` (voice check off); the notes the melody check
receives are kept, and its matching stage (``services.check.service._melody_check``: every query window
against every stored melody, :func:`consentry.engines.melody.match_contours`) is then timed with the NumPy
path and with the compiled loops, alternating, ``--rounds`` times each, after one warm-up of each (which
loads Numba). Reported: process CPU and wall per round, the CPU per stored melody per output, cells (query
events x reference events, summed) per CPU second, and whether both paths gave the same findings (every
field) - the run fails when they do not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import run_info  # noqa: E402

from consentry.engines.melody import align, melody_from_notes  # noqa: E402
from consentry.services.check import service  # noqa: E402
from consentry.services.registry import Registry  # noqa: E402


def _use(loops) -> None:
    """Make match_contours take the compiled loops (a module) or the NumPy path (None)."""
    align.LOOPS.use(loops)


def _cells(notes: list, melodies: list) -> int:
    """Table cells the matching stage fills (first table of each pair), as the check windows the query."""
    mel = melody_from_notes(notes)
    step = service.MELODY_WINDOW_NOTES - service.MELODY_WINDOW_OVERLAP_NOTES
    starts = range(0, max(1, len(mel) - service.MELODY_WINDOW_OVERLAP_NOTES), step)
    events = [max(0, min(service.MELODY_WINDOW_NOTES, len(mel) - w0) - 1) for w0 in starts]
    return int(sum(e * len(ref) for e in events for _, ref in melodies))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True, help="a registry with stored melodies (copied first)")
    ap.add_argument("--output", required=True, help="the AI output (audio file) to check")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="write the figures here (JSON)")
    args = ap.parse_args(argv)
    info = run_info()
    with tempfile.TemporaryDirectory(prefix="melody-align-") as tmp:
        reg_path = Path(tmp) / "reg.db"
        shutil.copy(args.registry, reg_path)
        index = Path(str(args.registry) + ".index")
        if index.is_dir():
            shutil.copytree(index, str(reg_path) + ".index")
        with Registry.open(str(reg_path), create=False) as reg:
            ctx = service.prepare_check(reg, voice=False)
            if ctx.melody_skipped:
                raise SystemExit(f"{args.registry}: {ctx.melody_skipped}")
            kept = {}
            real = service._melody_check

            def keep(c, notes, res):
                kept["notes"] = list(notes)
                return real(c, notes, res)

            service._melody_check = keep
            try:
                service.check_output(ctx, args.output)
            finally:
                service._melody_check = real
            notes = kept["notes"]
            loops = align.LOOPS.load()
            if loops is None:
                raise SystemExit("numba is not installed: nothing to compare")
            findings, cpu, wall = {}, {"numpy": [], "compiled": []}, {"numpy": [], "compiled": []}
            for r in range(args.rounds + 1):
                for name, module in (("numpy", None), ("compiled", loops)):
                    _use(module)
                    w0, c0 = time.perf_counter(), time.process_time()
                    got = service._melody_check(ctx, notes, SimpleNamespace())
                    c1, w1 = time.process_time(), time.perf_counter()
                    if r:  # round 0 is the warm-up
                        cpu[name].append(c1 - c0)
                        wall[name].append(w1 - w0)
                    findings.setdefault(name, got)
            _use(loops)
    try:
        np.testing.assert_equal(findings["compiled"], findings["numpy"])
        same = True
    except AssertionError:
        same = False
    n_works = len(ctx.melodies)
    cells = _cells(notes, ctx.melodies)
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    out = {
        "run": info, "registry": str(args.registry), "output": str(args.output), "rounds": args.rounds,
        "notes": len(notes), "stored_melodies": n_works, "cells": cells,
        "findings": len(findings["numpy"]), "same_findings": same,
        "cpu_s": cpu, "wall_s": wall,
        "cpu_ratio_compiled_over_numpy": [round(b / a, 4) for a, b in zip(cpu["numpy"], cpu["compiled"])],
        "cpu_ms_per_melody": {k: round(1000 * v / n_works, 3) for k, v in med.items()},
        "cells_per_cpu_s": {k: round(cells / v) for k, v in med.items()},
    }
    print(json.dumps({k: v for k, v in out.items() if k != "run"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

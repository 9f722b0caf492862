"""The text engine's batch search, this tree against an earlier commit, alternating in one process (issue 18).

    nice -n 10 .venv/bin/python benchmarks/ab_text_engine.py --before 8f9310a \
        --registry /work/scratch/text-s8/gb/registry.db --dataset /work/scratch/text-s8/gb/paragraphs.jsonl \
        --rounds 9 --out benchmarks/work/text-s8-ab.json

``profile_text_scan.py`` times each tree in its own process; on a shared machine whose load changes from one
minute to the next, a change of 10-30 % in one stage drowns in that.  Here both versions run in one process, one
pass over the dataset's batches each in turn (before first in odd rounds), so that both see the same machine.
What can be swapped this way: the commit's ``engines/text/_loops.py`` (compiled from its source, not cached),
``engines/text/batch.py``, ``winnowing.py`` and ``match.py`` (loaded beside this tree's as modules of the same
package, the old ``batch`` reading the old ``winnowing``'s words and shingles and the old ``match``'s lookup;
while the old version runs, this tree's ``_loops.words_kernel`` is the old one, which the old word pass reaches
through ``kernels``, and this tree's ``match.chains`` is the old one, which ``TextEngine.verify`` reaches through
``match.chain_seeds``); every other file of
``engines/text/`` but ``kernels.py`` (the loops' names) must be the same in both trees (checked: the script
refuses otherwise).  The dataset's rows are
batched as a scan batches them (``services.scan_text``: 1 MiB or 1,024 rows) and searched with ``locate_many``
against the registry's memory-mapped segments (one pass of each version first, untimed: the index read in, the
loops compiled).  Reported: CPU seconds per pass (``time.process_time``) of each version, median and minimum over
the rounds, their ratio, MB of row text per CPU-second, and whether every batch gave equal matches.  With
``--scan``, each pass is a whole scan of the dataset (``services.scan.scan_dataset``, one worker, into a copy of the
registry) whose engine is the version's: the same sitting's MB of JSONL per CPU-second, the services included, and
the stored items of a scan of each version compared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

SWAPPED = ("_loops.py", "batch.py", "winnowing.py", "match.py")
#: Files that may differ besides: kernels.py lists the loops' names (the old batch.py reads its loops through
#: this tree's kernels.py, which finds every loop name the old tree had).
MAY_DIFFER = SWAPPED + ("kernels.py",)


def old_files(commit: str) -> dict[str, bytes]:
    """``engines/text/*.py`` of ``commit``, by file name."""
    tmp = Path(tempfile.mkdtemp(prefix="text-ab-"))
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", commit, "src/consentry/engines/text"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    folder = tmp / "src" / "consentry" / "engines" / "text"
    out = {p.name: p.read_bytes() for p in folder.glob("*.py")}
    subprocess.run(["rm", "-rf", str(tmp)], check=True)
    return out


def old_versions(files: dict[str, bytes]):
    """``(words_kernel, locate_many)`` of the old tree, as modules of this tree's package."""
    import numba  # noqa: F401 - the old loops are compiled here

    from consentry.engines import text as package

    here = Path(package.__file__).parent
    differ = sorted(n for n, b in files.items() if n not in MAY_DIFFER and (here / n).read_bytes() != b)
    missing = sorted(set(p.name for p in here.glob("*.py")) ^ set(files))
    if differ or missing:
        raise SystemExit(f"only {', '.join(SWAPPED)} may differ between the trees; also: {differ + missing}")
    loops = types.ModuleType("consentry.engines.text._loops_before")
    loops.__package__ = "consentry.engines.text"
    exec(compile(files["_loops.py"].decode().replace("cache=True", "cache=False"), "_loops_before", "exec"),
         loops.__dict__)
    modules = {}
    for name in ("winnowing", "match", "batch"):
        spec = importlib.util.spec_from_loader(f"consentry.engines.text.{name}_before", loader=None)
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "consentry.engines.text"
        sys.modules[spec.name] = module
        exec(compile(files[f"{name}.py"].decode(), f"{name}_before", "exec"), module.__dict__)
        modules[name] = module
    batch = modules["batch"]
    for name in ("Shingles", "shingles", "window_minima", "words"):  # the old batch.py reads the old word pass
        setattr(batch, name, getattr(modules["winnowing"], name))
    for name in ("Seeds", "TextQuery", "lookup", "sorted_unique"):   # and the old lookup
        setattr(batch, name, getattr(modules["match"], name))
    batch.chains_before = modules["match"].chains   # put in match.chains while the old version runs
    return loops, batch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the earlier commit")
    ap.add_argument("--registry", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, required=True, help="JSONL with a 'text' column")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--scan", action="store_true",
                    help="time whole scans (scan_dataset, one worker) into a copy of the registry instead")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    from machine import run_info

    from consentry.engines.text import TextEngine, _loops, batch, kernels
    from consentry.services.registry import Registry
    from consentry.services.scan_text import TEXT_BATCH_BYTES, TEXT_BATCH_ITEMS

    kernels.load()
    old_loops, old_batch = old_versions(old_files(args.before))
    engine = TextEngine()
    copy = None
    if args.scan:  # the scans are stored: into a copy of the registry and its index folder
        copy = Path(tempfile.mkdtemp(prefix="text-ab-registry-"))
        shutil.copyfile(args.registry, copy / "registry.db")
        shutil.copytree(Path(str(args.registry) + ".index"), copy / "registry.db.index")
        args.registry = copy / "registry.db"
    registry = Registry.open(args.registry, create=False)
    segments = registry.store.index_segments(**engine.id.store_key())
    groups, group, size, total = [], [], 0, 0
    with args.dataset.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            group.append(engine.signal(text))
            size += len(text.encode("utf-8"))
            total += len(text.encode("utf-8"))
            if size >= TEXT_BATCH_BYTES or len(group) >= TEXT_BATCH_ITEMS:
                groups.append(group)
                group, size = [], 0
    if group:
        groups.append(group)
    new_kernel = _loops.words_kernel

    new_many = batch.locate_many

    from consentry.engines.text import match

    new_chains = match.chains

    def run(version: str) -> list:
        _loops.words_kernel = new_kernel if version == "after" else old_loops.words_kernel
        match.chains = new_chains if version == "after" else old_batch.chains_before   # what verify reaches
        many = new_many if version == "after" else old_batch.locate_many
        try:
            if not args.scan:
                return [many(engine, [s.data for s in g], segments) for g in groups]
            batch.locate_many = many   # what TextEngine.locate_many calls
            return [scan_dataset(registry, str(args.dataset), workers=1)["scan_id"]]
        finally:
            _loops.words_kernel = new_kernel
            batch.locate_many = new_many
            match.chains = new_chains

    def items_of(scan_ids: list) -> list:
        return [list(registry.store.iter_scan_items(s)) for s in scan_ids]

    if args.scan:
        from consentry.services.scan import scan_dataset

        run("after")   # imports, the index read in
        equal = items_of(run("after")) == items_of(run("before"))
        total = args.dataset.stat().st_size   # MB of JSONL, as the scan figures elsewhere

    else:
        equal = run("after") == run("before")
    times: dict[str, list[float]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for version in (("before", "after") if r % 2 else ("after", "before")):
            t0 = time.process_time()
            run(version)
            times[version].append(time.process_time() - t0)
    mb = total / 1e6
    med = {v: statistics.median(t) for v, t in times.items()}
    result = {"machine": run_info(), "before": args.before, "dataset": str(args.dataset),
              "timed": "scan_dataset (MB of JSONL)" if args.scan else "locate_many (MB of row text)", "mb": round(mb, 2),
              "batches": len(groups), "rows": sum(len(g) for g in groups), "rounds": args.rounds,
              "equal_matches": equal, "cpu_s": {v: [round(x, 4) for x in t] for v, t in times.items()},
              "median_cpu_s": {v: round(x, 4) for v, x in med.items()},
              "min_cpu_s": {v: round(min(t), 4) for v, t in times.items()},
              "mb_per_cpu_s_median": {v: round(mb / x, 1) for v, x in med.items()},
              "after_over_before_cpu_median": round(med["after"] / med["before"], 3),
              "after_over_before_cpu_min": round(min(times["after"]) / min(times["before"]), 3),
              "after_faster_in_rounds": sum(a < b for a, b in zip(times["after"], times["before"]))}
    registry.close()
    if copy is not None:
        shutil.rmtree(copy, ignore_errors=True)
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "cpu_s")}, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())

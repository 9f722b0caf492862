"""What a scan's terms snapshot costs as the catalogue grows (schema 8's terms sets against inline snapshots).

Every scan decides by the terms in force when it began.  Before schema 8 the
whole snapshot (every live work's terms) was stored as one JSON value in the
scan's row and parsed whole by every ``get_scan`` and ``list_scans``; from
schema 8 it is stored as rows once per distinct set of terms, shared by the
scans made under it, and read per work found.

This builds a registry of N works (index entries of 8 random keys each; the
terms path does not look at them), then K times: makes the terms snapshot a
scan makes, stores a scan under it (as ``scan_dataset`` does), reads it back
and looks up 20 works' terms, and lists the scans.  It reports CPU seconds per
step and the growth of the registry's database file per scan (write-ahead
log checkpointed first).  Run it against the code before
and after the change in the same sitting (``PYTHONPATH`` at a ``git archive``
export of each) to compare::

    PYTHONPATH=<export>/src .venv/bin/python benchmarks/run_terms_sets.py --works 20000 --scans 5 --out F.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def db_bytes(reg, path: Path) -> int:
    """The registry database's size with its write-ahead log folded in (the index folder not counted)."""
    reg.store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def build(path: Path, n: int) -> None:
    from consentry import Registry
    from consentry.domain.works import Work
    from consentry.engines.music.params import ENGINE_NAME
    from consentry.engines.music.postings import pack_postings

    with Registry.open(path) as reg:
        rng = np.random.default_rng(7)
        for start in range(0, n, 5000):
            batch = []
            for i in range(start, min(n, start + 5000)):
                sha = hashlib.sha256(f"work {i}".encode()).hexdigest()
                work = Work(work_id=sha[:16], fp_id=0, sha256=sha, title=f"Work {i}", creator=f"Creator {i % 997}",
                            source=f"/music/{i}.flac", duration_s=180.0, registered_at="2026-12-07T00:00:00+00:00",
                            engine=ENGINE_NAME, engine_version=reg.params.version, param_hash=reg.param_hash,
                            n_hashes=8)
                keys = rng.integers(0, 2**20, 8).astype(np.uint32)
                frames, midis = rng.integers(0, 3000, 8), rng.uniform(45, 105, 8)
                batch.append((work, keys, lambda fp, f=frames, m=midis: pack_postings(fp, f, m)))
            reg.store.add_works(batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--works", type=int, default=20000)
    ap.add_argument("--scans", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from consentry import Registry, __version__
    from consentry.services import scan as scan_service
    from consentry.store.sqlite import SCHEMA_VERSION, utc_now

    tmp = Path(tempfile.mkdtemp(prefix="terms-sets-"))
    path = tmp / "r.db"
    t0 = cpu()
    build(path, args.works)
    rows = []
    try:
        with Registry.open(path) as reg:
            ids = [w.work_id for w in reg.works()]
            probe = ids[:: max(1, len(ids) // 20)][:20]
            for k in range(args.scans):
                before = db_bytes(reg, path)
                c0 = cpu()
                with reg.store.snapshot():
                    snapshot = scan_service.terms_snapshot(reg)
                c1 = cpu()
                now = utc_now()
                reg.store.create_scan({
                    "scan_id": f"bench-{k}", "created_at": now, "finished_at": None, "status": "running",
                    "source_spec": f"/data/{k}", "source_kind": "folder", "source_name": str(k),
                    "dataset_fingerprint": None, "engine": "bench", "engine_version": "1", "param_hash": "p",
                    "options": {}, "terms_snapshot": snapshot, "terms_snapshot_at": now, "summary": None})
                del snapshot
                c2 = cpu()
                terms = reg.store.get_scan(f"bench-{k}")["terms_snapshot"]
                found = [terms[w]["decision"] for w in probe]
                c3 = cpu()
                listed = reg.store.list_scans()
                c4 = cpu()
                rows.append({"scan": k, "snapshot_cpu_s": round(c1 - c0, 3), "store_cpu_s": round(c2 - c1, 3),
                             "read_20_terms_cpu_s": round(c3 - c2, 4), "list_scans_cpu_s": round(c4 - c3, 4),
                             "registry_growth_bytes": db_bytes(reg, path) - before, "found": len(found),
                             "listed": len(listed)})
                print(rows[-1], flush=True)
            end_bytes = db_bytes(reg, path)
        out = {
            "command": "python benchmarks/run_terms_sets.py --works %d --scans %d" % (args.works, args.scans),
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "consentry": __version__, "schema_version": SCHEMA_VERSION, "works": args.works,
            "build_cpu_s": round(c0 - t0, 1) if rows else None, "scans": rows,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "registry_bytes_at_end": end_bytes,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""CPU of scanning a web crawl archive (WET) of short records, batched against one record at a time.

Both in the same run, alternating, on the same file and registry (issue 18: crawl archives and text
WebDataset shards are batched like the rows of a text column since 2026-12-07):

    .venv/bin/python benchmarks/run_crawl_batching.py --records 3000 --rounds 3

Prints one line per scan: CPU seconds (this process and its children), MB of record text per CPU-second,
and the scan's decision counts (equal for both, or the script stops).  Round 0 includes loading the text
engine's compiled loops.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from textkit import passage, prose  # noqa: E402  (the tests' deterministic prose)


def cpu_s() -> float:
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000, help="WET records of about 300 words")
    parser.add_argument("--works", type=int, default=40, help="registered texts of 3,000 words")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from warcio.warcwriter import WARCWriter

    from consentry import Registry
    from consentry.services import scan_text
    from consentry.services.scan import scan_dataset

    tmp = Path(tempfile.mkdtemp(prefix="crawl-batching-"))
    try:
        (tmp / "works").mkdir()
        works = [prose(5000 + i, 3000) for i in range(args.works)]
        for i, text in enumerate(works):
            (tmp / "works" / f"{i}.txt").write_text(text, encoding="utf-8")
        wet = tmp / "crawl.warc.wet.gz"
        size = 0
        with open(wet, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for i in range(args.records):
                text = prose(9000 + i, 300)
                if i % 50 == 0:  # one record in 50 copies 120 words of a registered text
                    text += " " + passage(works[i % len(works)], 500, 120)[0]
                data = text.encode("utf-8")
                size += len(data)
                writer.write_record(writer.create_warc_record(
                    f"https://example.org/{i}", "conversion", payload=io.BytesIO(data),
                    warc_headers_dict={"Content-Type": "text/plain"}))
        real = scan_text.batches_rows
        seen = set()
        with Registry.open(tmp / "r.db") as reg:
            reg.register([tmp / "works"], creator="A", terms="deny", workers=1)
            for rnd in range(args.rounds):
                for batching in (False, True):
                    scan_text.batches_rows = real if batching else (lambda ds: False)
                    t0 = cpu_s()
                    summary = scan_dataset(reg, str(wet), workers=1)
                    cpu = cpu_s() - t0
                    counts = {k: summary["totals"][k] for k in ("items", "refused", "unknown", "error")}
                    seen.add(tuple(counts.items()))
                    print(f"round {rnd} {'batched' if batching else 'one at a time'}: {cpu:.2f} CPU-s, "
                          f"{size / 1e6 / cpu:.2f} MB/CPU-s, {counts}", flush=True)
        scan_text.batches_rows = real
        if len(seen) != 1:
            print("the two ways gave different counts", file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

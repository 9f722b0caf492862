#!/usr/bin/env python3
"""Write the text engine's character table (src/consentry/engines/text/fold_table.npz).

    .venv/bin/python tools/make_text_fold.py           # write it from this Python's Unicode database
    .venv/bin/python tools/make_text_fold.py --check   # exit 1 if the shipped table differs

The table decides every text fingerprint: rewrite it only together with a new
text ``ENGINE_VERSION`` (src/consentry/engines/text/params.py).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from consentry.engines.text.fold import TABLE_PATH, build_fold_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    table = build_fold_table()
    if args.check:
        with np.load(TABLE_PATH, allow_pickle=False) as z:
            same = all(np.array_equal(z[k], table[k]) for k in ("cls", "length", "folded"))
            print(f"shipped (Unicode {z['unicode_version']}) vs this Python (Unicode {table['unicode_version']}): "
                  f"{'same' if same else 'DIFFERENT'}")
        return 0 if same else 1
    np.savez_compressed(TABLE_PATH, **table)
    print(f"wrote {TABLE_PATH} (Unicode {table['unicode_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``run_text.py`` on one fixed document selection and one passage stream, whatever the engine (issue 18).

    nice -n 10 .venv/bin/python benchmarks/run_text_paired.py --tree . --ids /tmp/ids.json -- --seed 1 --grow-mb 0
    git archive 5ae11ca src benchmarks/run_text.py benchmarks/machine.py | tar -x -C /tmp/text-v2
    nice -n 10 .venv/bin/python benchmarks/run_text_paired.py --tree /tmp/text-v2 --ids /tmp/ids.json -- --seed 1 \\
        --grow-mb 0 --cache benchmarks/work/text-corpus.jsonl

Two engine versions are compared on the same queries only if ``run_text.py`` draws the same documents and
passages for both, which it does not by itself: ``drop_untranslated`` keeps a translated page by the share of
its *engine* shingles found in the English page (so version 3's Han/kana chunks keep other pages than version
2's characters), and ``unrelated_words`` draws pieces from the passage stream until the engine finds nothing in
one (so what an engine finds changes every later draw).  Here ``drop_untranslated`` keeps the document ids in
``--ids`` (written from this engine's own selection when the file is missing: run the newer tree first), and
``unrelated_words`` takes one number from the stream and draws its pieces from a stream of its own.  ``--tree``:
the tree whose ``benchmarks/run_text.py`` (and so whose ``src``) is imported; the arguments after ``--`` go to
``run_text.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


def main() -> int:
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--ids", type=Path, required=True)
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    sys.path.insert(0, str(args.tree.resolve() / "benchmarks"))
    import run_text  # noqa: E402 - from --tree
    import consentry

    print(f"consentry from {consentry.__file__}", flush=True)
    own_selection = run_text.drop_untranslated
    own_pieces = run_text.unrelated_words

    def drop_untranslated(docs, **kw):
        if not args.ids.exists():
            kept, _ = own_selection(docs, **kw)
            args.ids.write_text(json.dumps([d["id"] for d in kept]))
        keep = set(json.loads(args.ids.read_text()))
        return [d for d in docs if d["id"] in keep], sum(1 for d in docs if d["id"] not in keep)

    def unrelated_words(rng, unrelated, n, **kw):
        return own_pieces(random.Random(rng.random()), unrelated, n, **kw)

    run_text.drop_untranslated = drop_untranslated
    run_text.unrelated_words = unrelated_words
    sys.argv = ["run_text.py"] + rest
    return run_text.main()


if __name__ == "__main__":
    raise SystemExit(main())

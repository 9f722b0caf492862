"""Keep only the training files whose creators allow it (or that hold no registered work).

    python examples/filter_loop.py consentry.db data/*.wav

Prints the files a training run may use; the others are reported on stderr
with the reason.  Needs only Consentry.
"""

from __future__ import annotations

import sys

from consentry.services.training import TrainingFilter


def usable_files(registry: str, paths: list[str]) -> list[str]:
    out = []
    with TrainingFilter(registry, accept=("allowed", "unknown")) as keep:
        for path in paths:
            decision = keep.decide(path)
            if decision.accepted:
                out.append(path)
            else:
                found = ", ".join(f"{m.title} ({m.terms})" for m in decision.matches) or decision.error
                print(f"left out {path}: {decision.verdict}: {found}", file=sys.stderr)
    return out


if __name__ == "__main__":
    for p in usable_files(sys.argv[1], sys.argv[2:]):
        print(p)

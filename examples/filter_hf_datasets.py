"""Filter a Hugging Face ``datasets.Dataset`` of audio before training.

    python examples/filter_hf_datasets.py consentry.db data/*.wav

Works on decoded examples (``{"array", "sampling_rate"}``) and on the raw
``{"bytes", "path"}`` form that Parquet files hold, so no audio decoder is
needed in ``datasets`` itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import datasets

from consentry.services.training import TrainingFilter


def usable_files(registry: str, paths: list[str]) -> list[str]:
    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": Path(p).read_bytes(), "path": p} for p in paths],
        "name": paths,
    })
    keep = TrainingFilter(registry, accept=("allowed", "unknown"))
    clean = ds.filter(keep, input_columns="audio")
    return list(clean["name"])


if __name__ == "__main__":
    for p in usable_files(sys.argv[1], sys.argv[2:]):
        print(p)

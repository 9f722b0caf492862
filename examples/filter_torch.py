"""A PyTorch IterableDataset that never yields refused audio.

    python examples/filter_torch.py consentry.db data/*.wav

The filter is pickled into each DataLoader worker and reopens the registry
there (read-only), so ``num_workers > 0`` works.
"""

from __future__ import annotations

import sys

import torch
from torch.utils.data import DataLoader, IterableDataset

from consentry.io.decode import decode_audio
from consentry.services.training import TrainingFilter


class ConsentedAudio(IterableDataset):
    def __init__(self, registry: str, paths: list[str], *, sample_rate_hz: int = 16000) -> None:
        self.keep = TrainingFilter(registry, accept=("allowed", "unknown"))
        self.paths = paths
        self.sample_rate_hz = sample_rate_hz

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        mine = self.paths if info is None else self.paths[info.id::info.num_workers]
        for path in self.keep.filter(mine):
            audio = decode_audio(path, sample_rate_hz=self.sample_rate_hz)
            yield path, torch.from_numpy(audio.samples)


def usable_files(registry: str, paths: list[str], *, num_workers: int = 0) -> list[str]:
    loader = DataLoader(ConsentedAudio(registry, paths), batch_size=None, num_workers=num_workers)
    return [path for path, _samples in loader]


if __name__ == "__main__":
    for p in usable_files(sys.argv[1], sys.argv[2:]):
        print(p)

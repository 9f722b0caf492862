"""Filter training data on the fly, inside a training pipeline (no torch needed).

:class:`TrainingFilter` decides, for each example, whether registered works
are in it and what their creators' terms say, and lets through only what you
accept.  It works in a plain loop, in a PyTorch ``IterableDataset`` and in
Hugging Face ``datasets.Dataset.filter``::

    from consentry.services.training import TrainingFilter

    keep = TrainingFilter("consentry.db", accept=("allowed", "unknown"))
    for path in keep.filter(paths):          # a plain loop, streaming
        train_on(path)

    ds = ds.filter(keep, input_columns="audio")   # Hugging Face datasets

    class Clean(torch.utils.data.IterableDataset):    # PyTorch
        def __iter__(self):
            return keep.filter(raw_examples())

An example may be a path, the bytes of an audio file, a ``(samples,
sample_rate_hz)`` pair, a NumPy (or torch) array with ``sample_rate_hz``
given to the filter, or a dict such as a Hugging Face example
(``{"audio": {"array": ..., "sampling_rate": ...}}``, ``{"audio": {"bytes":
..., "path": ...}}``, ``{"path": ...}``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from consentry.domain.errors import ConsentryError, DecodeError, InputError
from consentry.domain.audit import ITEM_DECISIONS, covered_seconds, decide_item
from consentry.domain.money import add_money
from consentry.domain.works import Match
from consentry.services.scan_summary import licence_amount

#: What a filter lets through unless told otherwise.
DEFAULT_ACCEPT = ("allowed", "unknown")


@dataclass(frozen=True)
class Decision:
    """The verdict on one example.

    ``verdict`` is ``refused``, ``licensable``, ``allowed``, ``unknown`` or
    ``error``; ``accepted`` says whether the filter lets it through;
    ``matches`` are the registered works found (with their terms);
    ``licence_cost`` sums, per currency, what the licensed works found cost
    for this example under each licence's unit (a per-work or per-run price
    counts in full here: across a dataset it is owed once, see ``consentry
    ledger``); ``covered_s`` is how much of the example they cover (s).
    """

    verdict: str
    accepted: bool
    matches: list[Match] = field(default_factory=list)
    licence_cost: dict[str, float] = field(default_factory=dict)
    covered_s: float = 0.0
    duration_s: float = 0.0
    error: str | None = None

    def __bool__(self) -> bool:
        return self.accepted


class TrainingFilter:
    """Decide examples against a registry, and stream the accepted ones.

    Parameters
    ----------
    registry : Registry or path
        An open :class:`consentry.Registry`, or the path of one (opened
        read-only here).
    accept : iterable of str, default ("allowed", "unknown")
        Verdicts to let through; add ``"licensable"`` if you pay the
        licences (see ``consentry ledger``).  ``"error"`` lets unreadable
        examples through (not advised).
    sample_rate_hz : int, optional
        Sample rate of bare arrays given to :meth:`decide`.
    audio_key : str, default "audio"
        Key of the audio in dict examples.
    min_score : float, optional
        Engine threshold (default: the calibrated one).
    """

    def __init__(self, registry: Any, *, accept: Iterable[str] = DEFAULT_ACCEPT, sample_rate_hz: int | None = None,
                 audio_key: str = "audio", min_score: float | None = None) -> None:
        from consentry.services.registry import Registry

        self.accept = frozenset(accept)
        unknown = self.accept - set(ITEM_DECISIONS)
        if unknown:
            raise InputError(f"accept={sorted(unknown)}: verdicts are {', '.join(ITEM_DECISIONS)}")
        self._own = not isinstance(registry, Registry)
        self.registry = Registry.open(registry, create=False) if self._own else registry
        self.sample_rate_hz = sample_rate_hz
        self.audio_key = audio_key
        self.min_score = min_score

    def close(self) -> None:
        if self._own:
            self.registry.close()

    def __enter__(self) -> "TrainingFilter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # Pickled into DataLoader workers or datasets' processes: reopen by path there.
        return {"path": self.registry.spec, "accept": tuple(sorted(self.accept)), "sample_rate_hz": self.sample_rate_hz,
                "audio_key": self.audio_key, "min_score": self.min_score}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], accept=state["accept"], sample_rate_hz=state["sample_rate_hz"],
                      audio_key=state["audio_key"], min_score=state["min_score"])

    # -- decisions -------------------------------------------------------------
    def _samples(self, example: Any) -> np.ndarray:
        """Mono float32 samples at the engine's rate from any supported example."""
        from consentry.io.decode import decode_audio

        rate = self.registry.params.sample_rate_hz
        if isinstance(example, dict):
            value = example.get(self.audio_key, example)
            if isinstance(value, dict):
                if value.get("array") is not None:
                    sr = value.get("sampling_rate") or value.get("sample_rate") or self.sample_rate_hz
                    return self._resample(value["array"], sr)
                if value.get("bytes") is not None:
                    return decode_audio(bytes(value["bytes"]), sample_rate_hz=rate, name=str(value.get("path") or "example bytes")).samples
                if value.get("path") is not None:
                    return decode_audio(value["path"], sample_rate_hz=rate).samples
                raise InputError(f"example dict has no 'array', 'bytes' or 'path' under {self.audio_key!r}")
            if value is example:
                raise InputError(f"example dict has no {self.audio_key!r} key (keys: {', '.join(map(str, example)) or 'none'})")
            return self._samples(value)
        if isinstance(example, (str, os.PathLike)):
            return decode_audio(example, sample_rate_hz=rate).samples
        if isinstance(example, (bytes, bytearray, memoryview)):
            return decode_audio(bytes(example), sample_rate_hz=rate, name="example bytes").samples
        if isinstance(example, tuple) and len(example) == 2:
            return self._resample(example[0], example[1])
        if hasattr(example, "shape"):
            return self._resample(example, self.sample_rate_hz)
        raise InputError(f"cannot read an example of type {type(example).__name__}: give a path, bytes, (samples, rate) or a dict")

    def _resample(self, array: Any, sr: int | None) -> np.ndarray:
        import soxr

        if sr is None:
            raise InputError("an array example needs its sample rate: pass sample_rate_hz= to TrainingFilter or give (samples, rate)")
        x = np.asarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array, dtype=np.float32)
        if x.ndim == 2:  # (channels, n) or (n, channels): average the shorter axis
            x = x.mean(axis=0 if x.shape[0] < x.shape[1] else 1)
        if x.ndim != 1:
            raise InputError(f"audio array of shape {x.shape}: give mono (n,) or (channels, n)")
        rate = self.registry.params.sample_rate_hz
        if int(sr) != rate:
            x = soxr.resample(x, int(sr), rate).astype(np.float32)
        return np.ascontiguousarray(x)

    def decide(self, example: Any) -> Decision:
        """The verdict on one example, under the terms in force now; never raises for a bad example."""
        try:
            samples = self._samples(example)
        except (DecodeError, InputError) as exc:
            return Decision(verdict="error", accepted="error" in self.accept, error=str(exc))
        try:
            matches = self.registry.identify_samples(samples, min_score=self.min_score)
        except ConsentryError as exc:
            return Decision(verdict="error", accepted="error" in self.accept, error=str(exc))
        terms = {m.work_id: self.registry.effective_terms(m.work_id)[0].uses["ai_training"] for m in matches}
        verdict = decide_item(t.decision for t in terms.values())
        cost: dict[str, float] = {}
        for work_id, t in terms.items():
            if t.decision == "license":
                covered = covered_seconds((m.query_start_s, m.query_end_s) for m in matches if m.work_id == work_id)
                _, amount = licence_amount(price=t.price, unit=t.unit, items=1, covered_s=covered)
                cost[t.currency] = add_money(cost.get(t.currency, 0.0), amount)
        rate = self.registry.params.sample_rate_hz
        return Decision(verdict=verdict, accepted=verdict in self.accept, matches=matches, licence_cost=cost,
                        covered_s=round(covered_seconds((m.query_start_s, m.query_end_s) for m in matches), 3),
                        duration_s=round(samples.size / rate, 3))

    def __call__(self, example: Any) -> bool:
        """True if the example is accepted (for ``datasets.Dataset.filter`` and ``filter()``)."""
        return self.decide(example).accepted

    def filter(self, examples: Iterable[Any]) -> Iterator[Any]:
        """Yield the accepted examples, one at a time (streaming; nothing is buffered)."""
        for example in examples:
            if self.decide(example).accepted:
                yield example

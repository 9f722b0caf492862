"""Reused compositions: find a registered work's melody in another recording.

Three steps, each its own module:

- :mod:`.transcribe`: audio to notes with basic-pitch's ONNX model (run by
  onnxruntime; no TensorFlow), windowing and note extraction written here;
- :mod:`.contour`: notes to a monophonic melody (skyline), then to events
  invariant to key and tempo (intervals, quantised IOI ratios);
- :mod:`.align`: Smith-Waterman local alignment of two contours, with a
  false-alarm probability from a null model calibrated on unrelated melodies.

:func:`match_melodies` ties the last two together. See docs/melody.md.
:mod:`.pitchsets` (onset groups as pitch sets, any voice) is a benchmarked
alternative to the skyline that the check does not use (docs/melody.md);
:mod:`.composition` (a null scaled by each pair's own event frequencies) is a
benchmarked alternative to NULL_MODEL that the check does not use either.
A check of model outputs, not a media engine with an index (docs/engines.md, "Checks").
Importing this package does not import onnxruntime.
"""

from __future__ import annotations

from consentry.engines.melody.align import NULL_MODEL, NullModel, PhraseMatch, Scoring, best_local_score, match_contours
from consentry.engines.melody.contour import Contour, Melody, contour_of, melody_from_notes
from consentry.engines.melody.transcribe import ModelUnavailable, Note, transcribe, transcribe_file

__all__ = [
    "NULL_MODEL", "Contour", "Melody", "ModelUnavailable", "Note", "NullModel", "PhraseMatch", "Scoring",
    "best_local_score", "contour_of", "match_contours", "match_melodies", "melody_from_notes", "transcribe",
    "transcribe_file",
]


def match_melodies(query: Melody, reference: Melody, **options) -> list[PhraseMatch]:
    """Phrases of ``reference`` found in ``query`` (see :func:`.align.match_contours` for ``options``)."""
    return match_contours(contour_of(query), contour_of(reference), **options)

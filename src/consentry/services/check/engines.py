"""Engine identities of the output check: name, version and parameter hash of each engine.

A stored melody or voice print is only ever compared with one made by the
same engine string (as fingerprints are).
"""

from __future__ import annotations

import functools
import hashlib

import importlib

_transcribe = importlib.import_module("consentry.engines.melody.transcribe")

MELODY_ENGINE_NAME = "melody-basic-pitch"
#: Bump when note extraction (consentry.engines.melody.transcribe) changes.
MELODY_ENGINE_VERSION = "1"


@functools.lru_cache(maxsize=1)
def melody_params_hash() -> str:
    """First 12 hex digits of SHA-256 over the note-extraction constants and the ONNX model's SHA-256.

    Raises
    ------
    consentry.engines.melody.ModelUnavailable
        If basic-pitch's model is missing from this install (it ships inside consentry).
    """
    model = _transcribe.find_model_path()
    h = hashlib.sha256()
    with open(model, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    constants = (f"{_transcribe.MODEL_SAMPLE_RATE_HZ}/{_transcribe.HOP_SAMPLES}/{_transcribe.WINDOW_SAMPLES}/"
                 f"{_transcribe.WINDOW_FRAMES}/{_transcribe.OVERLAP_FRAMES}/{h.hexdigest()}")
    return hashlib.sha256(constants.encode()).hexdigest()[:12]


def melody_engine_id() -> str:
    """``"melody-basic-pitch/1/<params hash>"``, the string stored with every work melody."""
    return f"{MELODY_ENGINE_NAME}/{MELODY_ENGINE_VERSION}/{melody_params_hash()}"

"""The speech gate: keep music out of the voice decision.

The voice-activity detector (:func:`consentry.engines.voice.features.speech_mask`)
passes anything voiced, instruments included, so an instrumental output
used to get a voice print made of music, and music lies close to some
enrolled voices (false findings on 6% of unregistered music outputs; see
benchmarks/RESULTS.md).  The gate looks at what the encoder itself says
about a stretch of audio: a linear model on the 256-d voice print of a
window tells speech from instrumental music (weights in
:mod:`consentry.engines.voice.gate_weights`, fitted and measured on separate data by
``benchmarks/run_voice.py --fit-gate``).  Windows below the threshold do not
reach the decision.

It was fitted on speech from Debian packages (isolated letters and words,
game dialogue, espeak-ng) and on game music; speech recorded in other
conditions may pass less often (see docs/voice.md, "Speech gate"), and
singing over music is not separated from the music.
"""

from __future__ import annotations

import numpy as np

from consentry.engines.voice import gate_weights

__all__ = ["GATE_NAME", "is_speech", "speech_likeness"]

#: Names the gate (and its weights) in results and evidence.
GATE_NAME = "speech-gate-logistic/1"

_W = np.asarray(gate_weights.WEIGHTS, dtype=np.float64)


def speech_likeness(vectors: np.ndarray) -> np.ndarray:
    """Log-odds that each voice print is speech rather than instrumental music.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (k, 256) or (256,)
        Unit-norm voice prints (window or whole-clip prints).

    Returns
    -------
    numpy.ndarray of float64, shape (k,)
        Above :data:`consentry.engines.voice.gate_weights.THRESHOLD` counts as speech.
    """
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if v.shape[-1] != _W.shape[0]:
        raise ValueError(f"voice prints have {v.shape[-1]} values, the gate expects {_W.shape[0]}")
    return v @ _W + gate_weights.BIAS


def is_speech(vectors: np.ndarray) -> np.ndarray:
    """Boolean mask, shape (k,): which prints pass the speech gate."""
    return speech_likeness(vectors) >= gate_weights.THRESHOLD

"""Voice prints: speaker embeddings for the voice-clone check of ``consentry check``.

- :mod:`consentry.engines.voice.torchfile` reads a PyTorch checkpoint without torch,
  through an unpickler that refuses every name but a state dict's few;
- :mod:`consentry.engines.voice.features` is the front end (16 kHz, 40 mel bands,
  25 ms / 10 ms, voice-activity detection);
- :mod:`consentry.engines.voice.encoder` runs Resemblyzer's GE2E network in NumPy and
  returns a :class:`~consentry.engines.voice.encoder.VoicePrint`;
- :mod:`consentry.engines.voice.score` turns similarities into error rates and a
  calibrated decision;
- :mod:`consentry.engines.voice.gate` keeps instrumental music out of the decision.

See ``docs/voice.md``.  A check of model outputs, not a media engine with an index
(``docs/engines.md``, "Checks").
"""

from consentry.engines.voice.encoder import (
    ModelUnavailable, VoicePrint, VoiceTrack, VoiceWindow, embed_voice, embed_voice_windows, load_encoder,
)
from consentry.engines.voice.score import VoiceDecision, cosine_similarity, decide

__all__ = ["ModelUnavailable", "VoiceDecision", "VoicePrint", "VoiceTrack", "VoiceWindow", "cosine_similarity", "decide",
           "embed_voice", "embed_voice_windows", "load_encoder"]

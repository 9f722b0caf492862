"""Voice prints: speaker embeddings for the voice-clone check (not yet in the CLI).

- :mod:`consentry.voice.torchfile` reads a PyTorch checkpoint without torch,
  through an unpickler that refuses every name but a state dict's few;
- :mod:`consentry.voice.features` is the front end (16 kHz, 40 mel bands,
  25 ms / 10 ms, voice-activity detection);
- :mod:`consentry.voice.encoder` runs Resemblyzer's GE2E network in NumPy and
  returns a :class:`~consentry.voice.encoder.VoicePrint`;
- :mod:`consentry.voice.score` turns similarities into error rates and a
  calibrated decision.

See ``docs/voice.md``.
"""

from consentry.voice.encoder import ModelUnavailable, VoicePrint, embed_voice, load_encoder
from consentry.voice.score import VoiceDecision, cosine_similarity, decide

__all__ = ["ModelUnavailable", "VoiceDecision", "VoicePrint", "cosine_similarity", "decide", "embed_voice", "load_encoder"]

"""AI-use signals read back from the web and from files (``consentry verify``).

The shapes are documented in docs/terms-model.md.
"""

from .model import (AI_DIGITAL_SOURCE_TYPES, DECISIONS, FORMATS, AiGeneratedLabel, Signal, SignalProblem, Verdict,
                    ai_source_type, combine)

__all__ = ["AI_DIGITAL_SOURCE_TYPES", "DECISIONS", "FORMATS", "AiGeneratedLabel", "Signal", "SignalProblem",
           "Verdict", "ai_source_type", "combine"]

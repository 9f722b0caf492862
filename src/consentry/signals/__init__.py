"""AI-use signals read back from the web and from files (``consentry verify``).

The shapes are documented in docs/terms-model.md.
"""

from .model import DECISIONS, FORMATS, Signal, SignalProblem, combine, Verdict

__all__ = ["DECISIONS", "FORMATS", "Signal", "SignalProblem", "Verdict", "combine"]

"""``consentry verify``: read every AI-use signal a site, a published folder or a file carries.

One verdict per use (docs/terms-model.md, :func:`consentry.domain.signals.combine`)
with the source of each part and every contradiction; documents that cannot
be read are findings (:class:`~consentry.domain.signals.SignalProblem`), never
crashes.  See docs/verify.md.

>>> report = verify_target("https://example.org/works/87c2f239d72ac0e4/song.mp3")  # doctest: +SKIP
>>> report.verdicts["ai_training"].decision  # doctest: +SKIP
'deny'
"""

from consentry.services.verify.core import verify_target
from consentry.services.verify.fetch import Document, FetchPolicy
from consentry.services.verify.report import ResourceReport, VerifyReport

__all__ = ["verify_target", "VerifyReport", "ResourceReport", "FetchPolicy", "Document"]

"""Use cases that every adapter (CLI, API, web, jobs, the training filter) calls for the same question.

Beside :mod:`consentry.services` (the :class:`~consentry.services.Registry`)
until it moves here (issue 16): one identify (:mod:`.identify`), and the
changes to works and terms that write the audit log given an actor
(:mod:`.works`).  Adapters parse input, call these, and word the answers.
"""

"""The service layer: every use case that the adapters (CLI, API, web, jobs, the training filter) call.

Registry (:mod:`.registry`), identify, works and terms changes, scans, checks, claims, accounts, the ledger,
publish, verify, embed, evidence, jobs and uploads.  The audit log is written here, given an actor.
"""

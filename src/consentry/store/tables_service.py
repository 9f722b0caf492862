"""Store methods for the server's tables (schema version 5)."""


class ServiceTablesMixin:
    """Accounts, tokens, sessions, audit log, uploads, jobs; needs ``self._conn`` and ``self.transaction``."""

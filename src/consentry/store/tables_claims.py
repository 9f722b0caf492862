"""Store methods for claims and disputes (schema version 6)."""


class ClaimsTablesMixin:
    """Claims and their events; needs ``self._conn`` and ``self.transaction``."""

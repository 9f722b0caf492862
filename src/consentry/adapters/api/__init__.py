"""The Consentry server (``consentry serve``): FastAPI over the same services as the CLI (docs/server.md)."""

from consentry.adapters.api.app import create_app
from consentry.adapters.api.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

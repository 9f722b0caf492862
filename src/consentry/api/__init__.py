"""The Consentry server (``consentry serve``): FastAPI over the same services as the CLI (docs/server.md)."""

from .app import create_app
from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

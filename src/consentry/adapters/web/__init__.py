"""The web app for creators, licensees and admins: server-rendered pages under ``/app`` (docs/web.md).

:data:`router` is mounted by :func:`consentry.adapters.api.create_app` on the same
application as the API, and calls the same route functions and services.
"""

from consentry.adapters.web.routes import router

__all__ = ["router"]

"""The web app for creators, licensees and admins: server-rendered pages under ``/app`` (docs/web.md).

:data:`router` is mounted by :func:`consentry.adapters.api.create_app` on the same
application as the API, and calls the same route functions and services.
"""

from consentry.adapters.web.render import not_found_page
from consentry.adapters.web.routes import front_router, router

#: Every router of the web app: the pages under ``/app`` and the front door ``/``.
routers = [router, front_router]

__all__ = ["front_router", "not_found_page", "router", "routers"]

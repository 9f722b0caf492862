"""The API's routers (mounted under /api/v1 by :func:`consentry.api.app.create_app`)."""

from .audit import router as audit_router
from .auth import router as auth_router
from .claims import router as claims_router
from .public import api_public_router
from .works import router as works_router

ROUTERS = [auth_router, works_router, audit_router, claims_router, api_public_router]

__all__ = ["ROUTERS"]

"""The API's routers (mounted under /api/v1 by :func:`consentry.adapters.api.app.create_app`)."""

from consentry.adapters.api.routes.audit import router as audit_router
from consentry.adapters.api.routes.auth import router as auth_router
from consentry.adapters.api.routes.claims import router as claims_router
from consentry.adapters.api.routes.public import api_public_router
from consentry.adapters.api.routes.works import router as works_router

ROUTERS = [auth_router, works_router, audit_router, claims_router, api_public_router]

__all__ = ["ROUTERS"]

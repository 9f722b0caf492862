"""Public, unauthenticated: the published terms and machine-readable files, served from the registry.

Served at the site root as ``consentry publish`` lays them out
(docs/publish.md): ``/robots.txt``, ``/ai.txt``, ``/rsl.xml``,
``/.well-known/tdmrep.json``, ``/tdm/policies/<id>.json`` and the terms pages
under ``/terms/`` (HTML and JSON), with an ETag, and the headers the publish
feature gives for the path.  The JSON of one work's or creator's terms is
also under ``/api/v1/public/``.  Deployment snippets (``server/``,
``headers.json``) are not public: creators download them from
``/api/v1/publish/``.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from consentry.domain.accounts import Principal
from consentry.adapters.api.deps import act, authorize, get_ctx, registry_dep
from consentry.adapters.api.models import ErrorOut

public_router = APIRouter(tags=["public"], responses={404: {"model": ErrorOut}, 429: {"model": ErrorOut}})
api_public_router = APIRouter(tags=["public"], responses={404: {"model": ErrorOut}, 429: {"model": ErrorOut}})


def _serve(request: Request, reg, site_path: str) -> Response:
    from consentry.adapters.api.app import NotFound

    built = get_ctx(request).publish.get(reg)
    files = built.public_files()
    if site_path not in files:
        raise NotFound(f"/{site_path}: not a published file")
    headers = {"ETag": built.etag, "Cache-Control": "public, max-age=60", **built.headers_for("/" + site_path)}
    if request.headers.get("if-none-match") == built.etag:
        return Response(status_code=304, headers=headers)
    return Response(files[site_path], media_type=built.media_type(site_path), headers=headers)


@public_router.get("/robots.txt", response_class=Response, **act("public:read"))
def robots_txt(request: Request, principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)):
    """robots.txt: AI crawler groups, Content-Usage lines, the RSL licence."""
    return _serve(request, reg, "robots.txt")


@public_router.get("/ai.txt", response_class=Response, **act("public:read"))
def ai_txt(request: Request, principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)):
    """ai.txt (Spawning)."""
    return _serve(request, reg, "ai.txt")


@public_router.get("/rsl.xml", response_class=Response, **act("public:read"))
def rsl_xml(request: Request, principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)):
    """The RSL 1.0 licence document."""
    return _serve(request, reg, "rsl.xml")


@public_router.get("/.well-known/tdmrep.json", response_class=Response, **act("public:read"))
def tdmrep(request: Request, principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)):
    """TDMRep rules (W3C TDM Reservation Protocol)."""
    return _serve(request, reg, ".well-known/tdmrep.json")


@public_router.get("/tdm/policies/{name}", response_class=Response, **act("public:read"))
def tdm_policy(name: str, request: Request, principal: Optional[Principal] = Depends(authorize("public:read")),
               reg=Depends(registry_dep)):
    """The TDMRep policy of a work whose TDM use is licensed."""
    return _serve(request, reg, f"tdm/policies/{name}")


@public_router.get("/terms/{page:path}", response_class=Response, **act("public:read"))
def terms_page(page: str, request: Request, principal: Optional[Principal] = Depends(authorize("public:read")),
               reg=Depends(registry_dep)):
    """The terms pages: index, each work and each creator, in HTML and JSON."""
    return _serve(request, reg, f"terms/{page}")


def _page_json(request: Request, reg, site_path: str) -> dict:
    import json

    from consentry.adapters.api.app import NotFound

    files = get_ctx(request).publish.get(reg).public_files()
    if site_path not in files:
        raise NotFound(f"/{site_path}: no such published terms")
    return json.loads(files[site_path])


@api_public_router.get("/public/works/{work_id}/terms", response_model=dict[str, Any], **act("public:read"))
def public_work_terms(work_id: str, request: Request, principal: Optional[Principal] = Depends(authorize("public:read")),
                      reg=Depends(registry_dep)) -> dict:
    """A work's published terms (the JSON of its terms page)."""
    return _page_json(request, reg, f"terms/works/{work_id}.json")


@api_public_router.get("/public/creators/{creator_id}/terms", response_model=dict[str, Any], **act("public:read"))
def public_creator_terms(creator_id: str, request: Request,
                         principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)) -> dict:
    """A creator's published terms and works (the JSON of their terms page); ``creator_id`` is the slug."""
    return _page_json(request, reg, f"terms/creators/{creator_id}.json")


@api_public_router.get("/health", response_model=dict[str, Any], **act("public:read"))
def health(request: Request, principal: Optional[Principal] = Depends(authorize("public:read")), reg=Depends(registry_dep)) -> dict:
    """The server is up and its registry readable."""
    from consentry import __version__

    return {"status": "ok", "version": __version__, "works": len(reg.works())}

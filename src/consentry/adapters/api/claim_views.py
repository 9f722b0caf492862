"""Claims as the server shows and changes them, for the API routes (``routes/claims.py``) and the web pages.

Who acts (:func:`claim_actor`), which claims a signed-in account may see, a
claim's public form with the caller's role and next actions (:func:`claim_out`),
the request bodies, and :func:`change_claim`, which applies a use case of
:mod:`consentry.services.claims` (the service writes the audit record).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Literal, Optional

from fastapi import Depends, Request
from pydantic import Field

from consentry.adapters.api.deps import authorize, ensure_allowed, get_ctx, lookup, registry_dep
from consentry.adapters.api.models import _In
from consentry.adapters.api.routes._common import acted_by
from consentry.domain.accounts import Conflict, PermissionDenied, Principal, party_of
from consentry.domain.claims import Actor, ClaimError, ClaimNotFoundError, NotAPartyError, allowed_actions
from consentry.domain.errors import ConsentryError, InputError
from consentry.services import claims


class AnswerIn(_In):
    contest: bool = Field(description="true: contest (an admin decides); false: concede (the claim goes to the other party).")
    note: Optional[str] = Field(None, max_length=2000)


class NoteIn(_In):
    note: Optional[str] = Field(None, max_length=2000)


class ResolveIn(_In):
    for_party: Literal["a", "b"] = Field(description="a: the claimant, b: the respondent.")
    note: Optional[str] = Field(None, max_length=2000)
    keep_losing_work: bool = Field(False, description="Keep the losing party's work registered (ownership claims).")


class DisputeIn(_In):
    item_id: str = Field(max_length=2000)
    reason: str = Field(max_length=2000)
    work_id: Optional[str] = Field(None, max_length=200, description="Only this work's finding (default: every work found in the item).")


def claim_actor(principal: Principal) -> Actor:
    """The claims service's actor for a signed-in account: a creator by its creator name, a licensee by its
    e-mail address, an admin as the admin (with the account id recorded in every event)."""
    if principal.is_admin:
        return Actor.admin(principal.email, account_id=principal.account_id)
    kind, name = party_of(principal) or ("licensee", principal.email)
    return Actor(kind, name, principal.account_id)


def claim_parties(claim) -> list[tuple[str, str]]:
    return [(claim.party_a_kind, claim.party_a), ("creator", claim.party_b)]


def parties_for(reg, claim, principal: Principal | None) -> list[tuple[str, str]]:
    """The claim's parties as far as ``principal`` may act for them: a creator account is the party its creator name
    names only on the side whose work it controls (a name typed at sign-up gives no say over works registered by
    others; :func:`consentry.services.accounts.controls_work`)."""
    if principal is None or principal.role != "creator":
        return claim_parties(claim)
    from consentry.services.accounts import controls_work

    out = []
    for kind, name, work_id in ((claim.party_a_kind, claim.party_a, claim.work_a), ("creator", claim.party_b, claim.work_b)):
        if kind == "creator" and name == principal.creator and work_id:
            try:
                work = reg.work(work_id)
            except ConsentryError:  # the work is gone: nothing to control
                continue
            if not controls_work(reg, principal, work):
                continue
        out.append((kind, name))
    return out


def visible_claims(reg, claims_found, principal: Principal) -> list:
    """Of a party's claims (by name), those it may see (:func:`parties_for`); an admin sees all."""
    if principal.is_admin:
        return list(claims_found)
    me = party_of(principal)
    return [c for c in claims_found if me in parties_for(reg, c, principal)]


@contextmanager
def claim_errors():
    """The claims service's errors as the server's: unknown claim 404, not a party 403, refused by state 409."""
    from consentry.adapters.api.app import NotFound

    try:
        yield
    except ClaimNotFoundError as exc:
        raise NotFound(str(exc)) from None
    except NotAPartyError as exc:
        raise PermissionDenied(str(exc)) from None
    except ClaimError as exc:
        raise Conflict(str(exc)) from None


def load_claim(reg, claim_id: str, principal: Principal, action: str):
    """The claim, once ``principal`` may do ``action`` on it (a party or an admin)."""
    with lookup("claim", claim_id):
        claim = claims.show_claim(reg, claim_id)
    ensure_allowed(action, principal, owner_parties=parties_for(reg, claim, principal), resource=("claim", claim_id))
    return claim


def claim_for(action: str):
    """A dependency: the claim of the path's ``claim_id`` once the caller may do ``action`` on it (a party or an
    admin), checked before the request's body is looked at."""
    auth = authorize(action)

    def dependency(claim_id: str, principal: Principal = Depends(auth), reg=Depends(registry_dep)):
        return load_claim(reg, claim_id, principal, action)

    return dependency


def scan_for_dispute(scan_id: str, principal: Principal = Depends(authorize("claims:dispute")),
                     reg=Depends(registry_dep)) -> dict:
    """A dependency: the scan of the path, once the caller may dispute its findings (the scan is theirs)."""
    from consentry.services.scan import get_scan, scan_owner

    with lookup("scan", scan_id):
        scan = get_scan(reg, scan_id)
    ensure_allowed("claims:dispute", principal, owner_account=scan_owner(reg, scan["scan_id"]),
                   resource=("scan", scan_id))
    return scan


def claim_out(claim, principal: Principal | None = None) -> dict:
    """A claim as the API shows it: evidence events name their stored copy by its event number, not by path."""
    d = claim.as_dict()
    for e in d["events"]:
        if e.get("evidence"):
            ev = {k: v for k, v in e["evidence"].items() if k != "file"}
            ev["download"] = f"/api/v1/claims/{claim.claim_id}/evidence/{e['seq']}"
            e["evidence"] = ev
    if principal is not None:
        role = claim.role_of(claim_actor(principal))
        d["your_role"] = role
        d["allowed_actions"] = allowed_actions(claim, role)
    return d


def change_claim(request: Request, reg, principal: Principal, claim_id: str, call, *, action: str = "claims:act"):
    """Apply ``call(actor, by)`` (a use case of consentry.services.claims, which writes the audit record) once
    ``principal`` may do ``action`` on the claim; returns the claim after it (API and web alike)."""
    load_claim(reg, claim_id, principal, action)
    with claim_errors():
        return call(claim_actor(principal), acted_by(request, principal))


def act_on_claim(request: Request, reg, principal: Principal, claim_id: str, call) -> dict:
    return claim_out(change_claim(request, reg, principal, claim_id, call), principal)


def submit_evidence_form(request: Request, principal: Principal, claim_id: str, form) -> dict:
    """Submit the one file of ``form`` (field ``bundle``) as evidence; shared with the web app."""
    ctx = get_ctx(request)
    files = form.files_named("bundle") or form.files
    if len(files) != 1:
        raise InputError("bundle: send exactly one evidence bundle in the 'bundle' field")
    note = (form.get("note") or "").strip()[:2000] or None
    with ctx.pool.registry() as reg:
        return act_on_claim(request, reg, principal, claim_id, lambda actor, by: claims.submit_evidence(
            reg, claim_id, files[0].path, actor=actor, evidence_dir=ctx.settings.data_dir / "evidence", note=note,
            name=files[0].original_name, by=by))

"""The citizen's pages: file, track, reply, rate, support, public reports, service standards."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from schemas.complaint import ATTACHMENT_TYPES
from schemas.complaint import LifecycleAction as A
from services.portal import present
from services.portal.platform_api import PlatformApi
from services.portal.web import Visit, visit

REPORT_TYPES = ("pengaduan", "aspirasi", "permintaan_informasi")
Visitor = Annotated[Visit, Depends(visit)]


def citizen_router(api: PlatformApi) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    async def filing_form(v: Visit, *, status: int = 200, **context: Any) -> Response:
        return v.render(
            "file.html",
            status=status,
            categories=await api.categories(),
            regions=present.provinces_and_regencies(),
            report_types=REPORT_TYPES,
            attachment_rows=range(1, present.ATTACHMENT_ROWS + 1),
            attachment_types=ATTACHMENT_TYPES,
            form=context.pop("form", {}),
            errors=context.pop("errors", {}),
            **context,
        )

    @pages.get("/")
    async def home(v: Visitor) -> Response:
        return v.render("home.html")

    @pages.get("/lapor")
    async def file_form(v: Visitor) -> Response:
        return await filing_form(v)

    @pages.post("/lapor")
    async def file(request: Request, v: Visitor) -> Response:
        form = dict(await request.form())
        v.check_csrf(form)
        fields = {k: str(val) for k, val in form.items()}
        answer = await api.file(
            present.report_body(fields),
            token=v.session.token if v.session.role == "citizen" else None,
        )
        if answer.ok:
            return v.redirect(f"/lapor/terkirim/{answer.body['tracking_id']}")
        errors = answer.field_errors or {"": str((answer.body or {}).get("detail", ""))}
        return await filing_form(v, status=answer.status, form=fields, errors=errors)

    @pages.get("/privasi")
    async def privacy(v: Visitor) -> Response:
        answer = await api.privacy_notice()
        notice = answer.body.get(v.lang, {}) if answer.ok and isinstance(answer.body, dict) else {}
        return v.render("privacy.html", notice=notice)

    @pages.get("/lapor/terkirim/{tracking_id}")
    async def filed(tracking_id: str, v: Visitor) -> Response:
        return v.render("filed.html", tracking_id=tracking_id)

    async def tracking_page(v: Visit, tracking_id: str, *, message: str = "") -> Response:
        answer = await api.track(tracking_id, token=v.session.token)
        if answer.status == 403:  # signed in without authority: what anyone may see
            answer = await api.track(tracking_id, token=None)
        if not answer.ok:
            return v.render(
                "track.html",
                status=404 if answer.status in (404, 422) else answer.status,
                unavailable=answer.unavailable,
                tracking_id=tracking_id,
                report=None,
                message=message,
                agencies={},
                left=None,
                may_reply=False,
                may_rate=False,
            )
        report = answer.body
        deadline = report.get("deadline")
        left = (
            present.working_days_left(deadline["due_at"], v.now, v.request.app.state.calendar)
            if deadline
            else None
        )
        citizen = v.session.role == "citizen"
        return v.render(
            "track.html",
            tracking_id=tracking_id,
            report=report,
            left=left,
            message=message,
            agencies=await api.agencies(),
            categories=dict(await api.categories()),
            may_reply=citizen
            and present.citizen_may(A.REPLY, report["status"])
            and "history" in report,
            may_rate=citizen
            and report["status"] in ("answered", "closed")
            and report.get("rating", 1) is None,
        )

    @pages.get("/lacak")
    async def track(v: Visitor, id: Annotated[str, Query(max_length=40)] = "") -> Response:
        if not id.strip():
            return v.render(
                "track.html",
                tracking_id="",
                report=None,
                message="",
                agencies={},
                left=None,
                may_reply=False,
                may_rate=False,
            )
        return await tracking_page(v, id.strip().upper())

    @pages.post("/lacak/{tracking_id}/balas")
    async def reply(tracking_id: str, request: Request, v: Visitor) -> Response:
        form = dict(await request.form())
        v.check_csrf(form)
        answer = await api.act(
            tracking_id,
            {"action": "reply", "text": str(form.get("text", ""))},
            token=v.session.token or "",
        )
        return await tracking_page(v, tracking_id, message=_outcome(v, answer))

    @pages.post("/lacak/{tracking_id}/nilai")
    async def rate(tracking_id: str, request: Request, v: Visitor) -> Response:
        form = dict(await request.form())
        v.check_csrf(form)
        rating: dict[str, Any] = {"score": present.number(str(form.get("score", "")))}
        if str(form.get("comment", "")).strip():
            rating["comment"] = str(form["comment"]).strip()
        answer = await api.rate(tracking_id, rating, token=v.session.token or "")
        return await tracking_page(v, tracking_id, message=_outcome(v, answer))

    @pages.post("/publik/{tracking_id}/dukung")
    async def support(tracking_id: str, request: Request, v: Visitor) -> Response:
        form = dict(await request.form())
        v.check_csrf(form)
        answer = await api.support(tracking_id, token=v.session.token or "")
        return await public_page(v, message=_outcome(v, answer, done="supported"))

    async def public_page(
        v: Visit, *, agency_id: str = "", q: str = "", message: str = ""
    ) -> Response:
        answer = await api.public_reports(agency_id=agency_id or None, q=_words(q))
        return v.render(
            "public.html",
            reports=answer.body if answer.ok else [],
            agencies=await api.agencies(),
            agency_id=agency_id,
            q=q,
            message=message,
            unavailable=answer.unavailable,
        )

    @pages.get("/publik")
    async def public(
        v: Visitor,
        agency_id: Annotated[str, Query(max_length=80)] = "",
        q: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        return await public_page(v, agency_id=agency_id, q=q.strip())

    @pages.get("/standar")
    async def standards(
        v: Visitor,
        q: Annotated[str, Query(max_length=100)] = "",
        agency_id: Annotated[str, Query(max_length=80)] = "",
    ) -> Response:
        answer = await api.public_standards(
            agency_id=agency_id or None, region_code=None, q=_words(q)
        )
        return v.render(
            "standards.html",
            standards=answer.body if answer.ok else [],
            unavailable=answer.unavailable,
            agencies=await api.agencies(),
            q=q,
            agency_id=agency_id,
        )

    return pages


def _words(q: str) -> str | None:
    """Search words worth sending: the APIs take two characters at least."""
    return q if len(q) >= 2 else None


def _outcome(v: Visit, answer: Any, *, done: str = "done_ok") -> str:
    t = v.t
    if answer.ok:
        return str(t(done))
    detail = (answer.body or {}).get("detail", "") if isinstance(answer.body, dict) else ""
    return f"{t('refused')}: {detail}"

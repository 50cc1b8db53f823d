"""Sign-in and the officer console: queues, a report's history, the actions the role allows."""

import csv
import io
import re
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from kernel.auth import issue_token
from kernel.http import ProblemError
from schemas.complaint import Actor, Role
from services.portal import present
from services.portal.config import PortalSettings
from services.portal.oidc import PENDING_COOKIE, PENDING_SECONDS, OidcProvider, SignInFailed
from services.portal.platform_api import PlatformApi
from services.portal.web import Visit, visit
from services.standards.domain import TimeUnit
from services.standards.importing import COLUMNS, LIST_COLUMNS, to_row

Visitor = Annotated[Visit, Depends(visit)]
OFFICER_ROLES = (Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN, Role.UNIT_OFFICER, Role.AUDITOR)
SIGN_IN_ROLES = (Role.CITIZEN, *OFFICER_ROLES)
IMPORTERS = (Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)  # who the standards API lets import
# Columns edited in a text area (one item per line for the lists).
LONG_COLUMNS = frozenset(
    {
        *LIST_COLUMNS,
        "pledge",
        "product",
        "complaint_handling",
        "staff_competence",
        "service_guarantee",
        "security_guarantee",
        "performance_evaluation",
    }
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ID = re.compile(r"^[a-z0-9-]{2,80}$")


def console_router(api: PlatformApi, settings: PortalSettings, provider: OidcProvider) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    def officer(v: Visit) -> Actor:
        actor = v.session.actor
        if actor is None or actor.role not in OFFICER_ROLES:
            raise ProblemError(401, "sign_in_required", "sign in as an officer first")
        return actor

    @pages.get("/masuk")
    async def sign_in_form(v: Visitor) -> Response:
        return v.render(
            "sign_in.html",
            dev=settings.portal_dev_sign_in,
            provider=provider.configured,
            roles=[r.value for r in SIGN_IN_ROLES],
            agencies=await api.agencies(),
            error="",
        )

    @pages.post("/masuk")
    async def dev_sign_in(request: Request, v: Visitor) -> Response:
        if not settings.portal_dev_sign_in:
            raise ProblemError(404, "not_found", "the development sign-in is off")
        form = {k: str(val).strip() for k, val in (await request.form()).items()}
        v.check_csrf(form)
        try:
            role = Role(form.get("role", ""))
        except ValueError:
            role = Role.SYSTEM
        agency_id = form.get("agency_id") or None
        unit_id = form.get("unit_id") or None
        name = form.get("name") or role.value
        needs_agency = role in (Role.AGENCY_ADMIN, Role.UNIT_OFFICER)
        problem = (
            role not in SIGN_IN_ROLES
            or (needs_agency and not (agency_id and ID.match(agency_id)))
            or (role is Role.UNIT_OFFICER and not (unit_id and ID.match(unit_id)))
        )
        if problem:
            return v.render(
                "sign_in.html",
                status=422,
                dev=True,
                provider=provider.configured,
                roles=[r.value for r in SIGN_IN_ROLES],
                agencies=await api.agencies(),
                error=f"{role.value}: agency/unit",
            )
        subject = f"dev-{role.value}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"
        actor = Actor(
            role=role,
            subject=subject,
            agency_id=agency_id if needs_agency else None,
            unit_id=unit_id if role is Role.UNIT_OFFICER else None,
        )
        token = issue_token(
            settings,
            role=role,
            subject=subject,
            agency_id=actor.agency_id,
            unit_id=actor.unit_id,
            lifetime=timedelta(hours=settings.portal_session_hours),
        )
        v.signed(v.session.signing_in(actor=actor, name=name, token=token))
        return v.redirect("/konsol" if role in OFFICER_ROLES else "/")

    @pages.get("/masuk/oidc")
    async def provider_sign_in(v: Visitor) -> Response:
        if not provider.configured:
            raise ProblemError(404, "not_found", "no identity provider is configured")
        try:
            url, pending = await provider.start()
        except (SignInFailed, httpx.HTTPError) as exc:
            raise ProblemError(503, "provider_unavailable", str(exc)) from exc
        response = v.redirect(url)
        response.set_cookie(
            PENDING_COOKIE,
            pending,
            max_age=PENDING_SECONDS,
            httponly=True,
            secure=settings.portal_cookie_secure,
            samesite="lax",  # sent on the provider's top-level redirect back
            path="/masuk/oidc",
        )
        return response

    @pages.get("/masuk/oidc/callback")
    async def provider_callback(
        request: Request,
        v: Visitor,
        code: Annotated[str, Query(min_length=1, max_length=2000)],
        state: Annotated[str, Query(min_length=1, max_length=200)],
    ) -> Response:
        try:
            person = await provider.finish(
                code=code, state=state, cookie=request.cookies.get(PENDING_COOKIE)
            )
        except SignInFailed as exc:
            raise ProblemError(400, exc.code, str(exc)) from exc
        except httpx.HTTPError as exc:
            raise ProblemError(503, "provider_unavailable", str(exc)) from exc
        v.signed(v.session.signing_in(actor=person.actor, name=person.name, token=person.token))
        response = v.redirect("/konsol" if person.actor.role in OFFICER_ROLES else "/")
        response.delete_cookie(PENDING_COOKIE, path="/masuk/oidc")
        return response

    @pages.post("/keluar")
    async def sign_out(request: Request, v: Visitor) -> Response:
        v.check_csrf(dict(await request.form()))
        v.signed(v.session.signing_out())
        return v.redirect("/")

    @pages.get("/konsol")
    async def queues(v: Visitor) -> Response:
        actor = officer(v)
        answer = await api.queue(token=v.session.token or "", status=None)
        if answer.status == 401:  # the token ran out before the session: sign in again
            v.signed(v.session.signing_out())
            return v.redirect("/masuk")
        reports = answer.body if answer.ok else []
        return v.render(
            "console.html",
            unavailable=answer.unavailable,
            actor=actor,
            queues=present.queues(reports, v.now, v.request.app.state.calendar),
            agencies=await api.agencies(),
            left=lambda r: present.working_days_left(
                r["deadline"]["due_at"], v.now, v.request.app.state.calendar
            )
            if r.get("deadline")
            else None,
        )

    async def report_page(
        v: Visit, tracking_id: str, message: str = "", status: int = 200
    ) -> Response:
        actor = officer(v)
        answer = await api.track(tracking_id, token=v.session.token)
        if not answer.ok:
            raise ProblemError(
                answer.status,
                answer.problem_code or "not_found",
                str((answer.body or {}).get("detail", "")),
            )
        report = answer.body
        deadline = report.get("deadline")
        return v.render(
            "console_report.html",
            status=status,
            actor=actor,
            report=report,
            message=message,
            actions=present.actions_for(actor.role.value, report["status"]),
            agencies=await api.agencies(),
            categories=dict(await api.categories()),
            left=present.working_days_left(deadline["due_at"], v.now, v.request.app.state.calendar)
            if deadline
            else None,
        )

    @pages.get("/konsol/laporan/{tracking_id}")
    async def report(tracking_id: str, v: Visitor) -> Response:
        return await report_page(v, tracking_id)

    @pages.post("/konsol/laporan/{tracking_id}/tindakan")
    async def act(tracking_id: str, request: Request, v: Visitor) -> Response:
        officer(v)
        form = {k: str(val) for k, val in (await request.form()).items()}
        v.check_csrf(form)
        answer = await api.act(
            tracking_id,
            present.action_body(form.get("action", ""), form),
            token=v.session.token or "",
        )
        t = v.t
        if answer.ok:
            return await report_page(v, tracking_id, t("done_ok"))
        detail = (answer.body or {}).get("detail", "") if isinstance(answer.body, dict) else ""
        return await report_page(v, tracking_id, f"{t('refused')}: {detail}", status=answer.status)

    async def performance_page(
        v: Visit, *, outcome: dict[str, Any] | None = None, status: int = 200
    ) -> Response:
        actor = officer(v)
        token = v.session.token or ""
        on_time = await api.on_time(token=token, by_unit=actor.role is Role.UNIT_OFFICER)
        scores = await api.standard_scores(token=token)
        in_force = await api.standards_in_force(token=token)
        names = {
            s["standard_id"]: s["service_name"] for s in (in_force.body if in_force.ok else [])
        }
        return v.render(
            "console_performance.html",
            status=status,
            unavailable=any(a.unavailable for a in (on_time, scores, in_force)),
            actor=actor,
            on_time=on_time.body if on_time.ok else [],
            scores=scores.body if scores.ok else [],
            names=names,
            agencies=await api.agencies(),
            may_import=actor.role in IMPORTERS,
            outcome=outcome,
        )

    @pages.get("/konsol/kinerja")
    async def performance(v: Visitor) -> Response:
        return await performance_page(v)

    @pages.post("/konsol/kinerja/impor")
    async def import_standards(request: Request, v: Visitor) -> Response:
        officer(v)
        form = await request.form()
        v.check_csrf(form)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return await performance_page(
                v, outcome={"ok": False, "detail": "file", "errors": []}, status=422
            )
        content = await upload.read()
        media_type = XLSX if (upload.filename or "").lower().endswith(".xlsx") else "text/csv"
        answer = await api.import_standards(
            content, media_type, publish=form.get("publish") == "on", token=v.session.token or ""
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        return await performance_page(
            v,
            outcome={
                "ok": answer.ok,
                "imported": body.get("imported", 0),
                "detail": body.get("detail", ""),
                "errors": body.get("errors", []),
            },
            status=200 if answer.ok else answer.status,
        )

    def editor(
        v: Visit, row: dict[str, str], errors: dict[str, str], status: int = 200
    ) -> Response:
        return v.render(
            "console_standard.html",
            status=status,
            actor=officer(v),
            row=row,
            errors=errors,
            columns=COLUMNS,
            long_columns=LONG_COLUMNS,
            units=[u.value for u in TimeUnit],
        )

    @pages.get("/konsol/standar/baru")
    async def new_standard(v: Visitor) -> Response:
        actor = officer(v)
        return editor(v, {c: "" for c in COLUMNS} | {"agency_id": actor.agency_id or ""}, {})

    @pages.get("/konsol/standar/{standard_id}")
    async def edit_standard(standard_id: str, v: Visitor) -> Response:
        officer(v)
        answer = await api.standard(standard_id, token=v.session.token or "")
        if not answer.ok:
            raise ProblemError(
                answer.status, answer.problem_code or "not_found", "no such standard"
            )
        return editor(v, to_row(answer.body), {})

    @pages.post("/konsol/standar")
    async def save_standard(request: Request, v: Visitor) -> Response:
        officer(v)
        form = {k: str(val) for k, val in (await request.form()).items()}
        v.check_csrf(form)
        row = {c: form.get(c, "").strip() for c in COLUMNS}
        sheet = io.StringIO()
        writer = csv.DictWriter(sheet, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerow(row)
        answer = await api.import_standards(
            sheet.getvalue().encode(),
            "text/csv",
            publish=form.get("publish") == "on",
            token=v.session.token or "",
        )
        if answer.ok:
            return await performance_page(v, outcome={"ok": True, "imported": 1, "errors": []})
        body = answer.body if isinstance(answer.body, dict) else {}
        errors = {str(e.get("field")): str(e.get("message")) for e in body.get("errors", [])}
        return editor(v, row, errors or {"": str(body.get("detail", ""))}, status=answer.status)

    return pages

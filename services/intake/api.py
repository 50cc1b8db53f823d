"""HTTP adapter of intake: submit and track complaints."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response

from kernel.http import ProblemError, correlation_id
from schemas.complaint import TRACKING_ID_PATTERN
from services.intake.domain import ComplaintCreate, ComplaintStatusView
from services.intake.service import IdempotencyConflict, IntakeService

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def router(service: IntakeService) -> APIRouter:
    """Routes bound to one IntakeService."""
    api = APIRouter(prefix="/v1", tags=["complaints"])

    @api.post(
        "/complaints",
        status_code=201,
        response_model=ComplaintStatusView,
        summary="Submit a complaint, suggestion or information request",
        responses={
            200: {"description": "A retry with the same Idempotency-Key: the earlier complaint"},
            400: {"description": "Malformed JSON", **PROBLEM},
            409: {"description": "Idempotency-Key reused for a different request", **PROBLEM},
            413: {"description": "Body too large", **PROBLEM},
            422: {"description": "Validation failed, per field", **PROBLEM},
            503: {"description": "Database unreachable; nothing was stored", **PROBLEM},
        },
    )
    async def submit(
        create: ComplaintCreate,
        request: Request,
        response: Response,
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=128,
                pattern=r"^[A-Za-z0-9_.:-]+$",
                description="Send the same key when retrying, to get one complaint, not two.",
            ),
        ] = None,
    ) -> ComplaintStatusView:
        try:
            record, created = await service.submit(
                create,
                correlation_id=correlation_id(request),
                idempotency_key=idempotency_key,
            )
        except IdempotencyConflict as exc:
            raise ProblemError(
                409, "idempotency_key_reused", "this Idempotency-Key was used for another request"
            ) from exc
        response.status_code = 201 if created else 200
        response.headers["Location"] = f"/v1/complaints/{record['_id']}"
        return ComplaintStatusView.from_record(record)

    @api.get(
        "/complaints/{tracking_id}",
        response_model=ComplaintStatusView,
        summary="Track a complaint by its tracking ID",
        responses={404: {"description": "No such tracking ID", **PROBLEM}},
    )
    async def track(
        tracking_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)],
    ) -> ComplaintStatusView:
        record = await service.get(tracking_id)
        if record is None:
            raise ProblemError(404, "complaint_not_found", f"no complaint {tracking_id}")
        return ComplaintStatusView.from_record(record)

    return api

"""Channels other than the web form: the SMS gateway webhook (short code 1708)."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kernel.http import PROBLEM_RESPONSE, ProblemError, correlation_id
from schemas.complaint import Channel, ReporterContact, ReportType
from services.intake.domain import ComplaintCreate
from services.intake.service import IntakeService
from services.intake.sms import UnreadableSms, accepted_reply, parse

PROBLEM = PROBLEM_RESPONSE
# The shared secret the SMS gateway sends with every inbound message (INTAKE_SMS_GATEWAY_TOKEN).
GATEWAY_TOKEN = APIKeyHeader(
    name="X-Gateway-Token",
    scheme_name="SmsGatewayToken",
    description="The SMS gateway's shared secret.",
    auto_error=False,
)


class SmsInbound(BaseModel):
    """One message as the gateway delivers it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The gateway's ID: a redelivered message creates no second report.",
    )
    sender: str = Field(pattern=r"^\+?[0-9]{8,15}$", examples=["+6281234567890"])
    text: str = Field(max_length=1_600, description="Up to ten concatenated SMS.")


class SmsReply(BaseModel):
    """What the gateway sends back to the sender."""

    tracking_id: str
    reply: str


def sms_router(service: IntakeService, *, token: str, default_region: str) -> APIRouter:
    """The webhook; answers 404 when no gateway token is configured."""
    api = APIRouter(prefix="/v1/channels", tags=["channels"])

    @api.post(
        "/sms",
        response_model=SmsReply,
        summary="Inbound SMS from the gateway: becomes a report, answered with its tracking ID",
        responses={
            401: {"description": "Missing or wrong X-Gateway-Token", **PROBLEM},
            404: {"description": "The SMS channel is not configured", **PROBLEM},
            422: {"description": "Not a report; `reply` explains the format", **PROBLEM},
        },
    )
    async def inbound(
        message: SmsInbound,
        request: Request,
        x_gateway_token: Annotated[str | None, Security(GATEWAY_TOKEN)] = None,
    ) -> SmsReply:
        if not token:
            raise ProblemError(404, "channel_disabled", "the SMS channel is not configured")
        if x_gateway_token is None or not hmac.compare_digest(x_gateway_token, token):
            raise ProblemError(401, "invalid_gateway_token", "X-Gateway-Token is missing or wrong")
        try:
            report = parse(message.text, default_region=default_region)
            create = ComplaintCreate(
                title=report.title,
                body=report.body,
                category=report.category,
                region_code=report.region_code,
                report_type=ReportType.PENGADUAN,
                reporter=ReporterContact(phone=message.sender),
                channel=Channel.SMS,
            )
        except UnreadableSms as exc:
            raise ProblemError(422, "unreadable_sms", str(exc), reply=exc.reply) from exc
        except ValidationError as exc:
            reply = "Laporan tidak dapat dibaca. Kirim: LAPOR#KATEGORI#isi laporan"
            raise ProblemError(422, "unreadable_sms", str(exc), reply=reply) from exc
        record, _ = await service.submit(
            create,
            correlation_id=correlation_id(request),
            idempotency_key=f"sms:{message.message_id}",
        )
        return SmsReply(tracking_id=record["_id"], reply=accepted_reply(record["_id"]))

    return api

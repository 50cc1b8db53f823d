"""What intake answers the platform's own services: report data keys, for notify."""

import hmac
from collections.abc import Iterable
from typing import Annotated, Protocol

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from kernel.http import ProblemError
from kernel.sealing import DataKey, Sealer
from schemas.internal import (
    KEY_HOLDERS,
    MOST_KEYS_PER_REQUEST,
    REPORTER_KEYS_PATH,
    SERVICE_KEY_HEADER,
)


class KeyFinder(Protocol):
    """Where the keys are kept (``services.intake.reporter_keys.ReporterKeys``)."""

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]: ...


class WrappedKeys(BaseModel):
    keys: dict[str, str] = Field(
        description="Complaint ID to its data key, wrapped under PII_KEYS; a report whose key "
        "was destroyed (its reporter's data erased) is not listed."
    )


def internal_router(keys: KeyFinder, sealer: Sealer) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    allowed = [sealer.service_key(holder) for holder in KEY_HOLDERS]

    @api.get(REPORTER_KEYS_PATH)
    async def reporter_keys(
        complaint_id: Annotated[list[str], Query(min_length=1, max_length=MOST_KEYS_PER_REQUEST)],
        service_key: Annotated[str, Header(alias=SERVICE_KEY_HEADER)] = "",
    ) -> WrappedKeys:
        if not any(hmac.compare_digest(service_key, key) for key in allowed):
            raise ProblemError(403, "not_a_key_holder", f"{SERVICE_KEY_HEADER} names no key holder")
        found = await keys.find(complaint_id)
        return WrappedKeys(keys={cid: sealer.wrap(key) for cid, key in found.items()})

    return api

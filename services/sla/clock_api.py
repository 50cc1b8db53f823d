"""Outside production: the clock the SLA service fires deadlines by, read and shifted over HTTP
(``kernel.clock`` says why). The composition root leaves this router out in production."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from kernel import http
from kernel.clock import Clock
from kernel.logging import get_logger
from schemas.complaint import Actor, Role
from services.sla.sweeper import Sweeper

log = get_logger(__name__)


class ClockShift(BaseModel):
    """How far ahead of real time the SLA clock runs."""

    model_config = ConfigDict(extra="forbid")

    offset_seconds: float = Field(ge=-10 * 365 * 86400, le=10 * 365 * 86400, examples=[14 * 86400])


def clock_router(clock: Clock, sweeper: Sweeper, caller: Callable[..., Actor | None]) -> APIRouter:
    """Outside production: read and shift the clock deadlines are fired by (rehearsals,
    end-to-end tests). A shift sweeps at once, so what fell due is fired before it answers."""
    api = APIRouter(prefix="/v1/admin", tags=["non-production"])

    def view(fired: int | None = None) -> dict[str, Any]:
        shown: dict[str, Any] = {"now": clock.now(), "offset_seconds": clock.offset_seconds}
        return shown if fired is None else {**shown, "fired": fired}

    @api.get("/clock", summary="The SLA clock (development and staging only)")
    async def read_clock(actor: Annotated[Actor | None, Depends(caller)]) -> dict[str, Any]:
        http.require_role(actor, Role.NATIONAL_ADMIN)
        return view()

    @api.put("/clock", summary="Shift the SLA clock and fire what fell due (not in production)")
    async def shift_clock(
        shift: ClockShift, actor: Annotated[Actor | None, Depends(caller)]
    ) -> dict[str, Any]:
        admin = http.require_role(actor, Role.NATIONAL_ADMIN)
        clock.shift_to(shift.offset_seconds)
        log.warning("clock_shifted", offset_seconds=shift.offset_seconds, by=admin.subject)
        return view(await sweeper.sweep_once())

    return api

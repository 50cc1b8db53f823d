"""The data keys of reports, asked of intake (which alone keeps them) when notify must reach a
reporter: their contact details come sealed under the report's key, in the event and in
notify's own records, and open only while the key exists.

Keys are kept in memory, bounded, so that the messages of one complaint ask once; an erasure
drops its key here when notify takes the event in. Keys are never written to notify's database.
"""

from collections.abc import Iterable

import httpx

from kernel.lru import LRU
from kernel.mongo import DependencyUnavailable
from kernel.sealing import DataKey, Sealer
from schemas.internal import MOST_KEYS_PER_REQUEST, REPORTER_KEYS_PATH, SERVICE_KEY_HEADER

KEPT_IN_MEMORY = 20_000


class ReporterKeyClient:
    """Finds report data keys through intake's internal endpoint."""

    def __init__(
        self,
        *,
        url: str,
        sealer: Sealer,
        client: httpx.AsyncClient,
        caller: str,
        kept: int = KEPT_IN_MEMORY,
    ) -> None:
        self._url = url.rstrip("/") + REPORTER_KEYS_PATH
        self._sealer = sealer
        self._client = client
        self._headers = {SERVICE_KEY_HEADER: sealer.service_key(caller)}
        self._kept: LRU[str, DataKey] = LRU(kept)

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]:
        """The keys of these reports that still exist (an erased report has none). Raises
        ``DependencyUnavailable`` while intake does not answer."""
        return await self._kept.through(complaint_ids, self._ask_in_pages)

    def forget(self, complaint_id: str) -> None:
        """Drop a report's key (its reporter's data was erased)."""
        self._kept.pop(complaint_id)

    async def _ask_in_pages(self, complaint_ids: list[str]) -> dict[str, DataKey]:
        found = {}
        for start in range(0, len(complaint_ids), MOST_KEYS_PER_REQUEST):
            page = complaint_ids[start : start + MOST_KEYS_PER_REQUEST]
            for complaint_id, wrapped in (await self._ask(page)).items():
                found[complaint_id] = self._sealer.unwrap(wrapped)
        return found

    async def _ask(self, complaint_ids: list[str]) -> dict[str, str]:
        try:
            response = await self._client.get(
                self._url, params={"complaint_id": complaint_ids}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"intake's reporter keys do not answer: {exc!r}") from exc
        if response.status_code != httpx.codes.OK:
            # Retried like an outage, not dead-lettered: a 404 from an intake not upgraded yet
            # or a 403 from a key being rotated passes, and nothing is lost meanwhile.
            raise DependencyUnavailable(
                f"intake's reporter keys answered {response.status_code}: {response.text[:200]}"
            )
        keys: dict[str, str] = response.json()["keys"]
        return keys

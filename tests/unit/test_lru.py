"""The bounded in-memory map the caches of files, reports and keys share."""

import pytest

from kernel.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    kept: LRU[str, int] = LRU(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "b" is now the least recent
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (1, None, 3, 2)
    assert kept.pop("a") == 1 and kept.pop("a") is None
    with pytest.raises(ValueError, match="at least 1"):
        LRU(0)


async def test_read_through_asks_once_for_what_is_missing_and_keeps_what_it_found() -> None:
    kept: LRU[str, str] = LRU(10)
    kept.put("kept", "K")
    asked: list[list[str]] = []

    async def load(missing: list[str]) -> dict[str, str]:
        asked.append(missing)
        return {key: key.upper() for key in missing if key != "gone"}

    found = await kept.through(["kept", "new", "gone", "new"], load)
    assert found == {"kept": "K", "new": "NEW"}
    assert asked == [["new", "gone"]]  # one call, each key once
    assert await kept.through(["new"], load) == {"new": "NEW"} and len(asked) == 1
    assert kept.get("gone") is None  # not found is not remembered: it is asked again

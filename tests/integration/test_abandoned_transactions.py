"""A transaction the connection failed under, on a database of its own that the test pauses."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure

from devstack import infra
from kernel.mongo import Document, Session, in_transaction


@pytest.fixture
def paused_server() -> Iterator[infra.ServerProcess]:
    server = infra.start_mongo()
    yield server
    server.resume()
    server.stop()


@pytest.fixture
async def client(paused_server: infra.ServerProcess) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.mongo_url(paused_server), socketTimeoutMS=1500, serverSelectionTimeoutMS=1500
    )
    yield client
    await client.close()


async def test_a_transaction_cut_off_by_an_outage_frees_its_documents_once_the_database_answers(
    paused_server: infra.ServerProcess, client: AsyncMongoClient[Document]
) -> None:
    complaints = client["it_abandoned"]["complaints"]
    await complaints.insert_one({"_id": "c1", "status": "submitted"})

    async def routed_then_cut_off(session: Session) -> None:
        await complaints.update_one({"_id": "c1"}, {"$set": {"status": "routed"}}, session=session)
        paused_server.pause()
        # The commit cannot reach the paused server, and neither can the driver's abort.
        await complaints.insert_one({"_id": "c2"}, session=session)

    with pytest.raises(ConnectionFailure):
        await in_transaction(client, routed_then_cut_off)
    paused_server.resume()

    # The next transaction ends the one left open; the complaint is writable again at once,
    # where the server alone would have held it until its reaper ran (never, on this one).
    async def noop(session: Session) -> None:
        await client["it_abandoned"]["other"].insert_one({"_id": "x"}, session=session)

    await in_transaction(client, noop)
    await asyncio.wait_for(
        complaints.update_one({"_id": "c1"}, {"$set": {"status": "closed"}}), timeout=10
    )
    assert await complaints.find_one({"_id": "c1"}) == {"_id": "c1", "status": "closed"}
    assert await complaints.find_one({"_id": "c2"}) is None

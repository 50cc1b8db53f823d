"""``lapor-admin``: operator commands that need the platform's own definitions.

- ``create-topics``: create every topic (product and dead-letter) with its partitions and
  policy, against ``KAFKA_BOOTSTRAP_SERVERS``; run once per deployment (compose does).
- ``asyncapi``: print the AsyncAPI document of the topics.
"""

import argparse
import asyncio
import json

from kernel.kafka import ensure_topics
from kernel.settings import ServiceSettings
from schemas.asyncapi import asyncapi_document
from schemas.topics import all_topics


def main(argv: list[str] | None = None) -> None:
    """Dispatch one admin command."""
    parser = argparse.ArgumentParser(prog="lapor-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-topics", help="create every topic the platform needs")
    commands.add_parser("asyncapi", help="print the AsyncAPI document")
    args = parser.parse_args(argv)
    if args.command == "create-topics":
        settings = ServiceSettings(service_name="admin")
        asyncio.run(ensure_topics(settings, all_topics()))
        for topic in all_topics():
            print(f"{topic.name}\t{topic.partitions}\t{topic.config()}")
    else:
        print(json.dumps(asyncapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

"""``lapor-admin``: operator commands that need the platform's own definitions.

- ``create-topics``: create every topic (product and dead-letter) with its partitions and
  policy, against ``KAFKA_BOOTSTRAP_SERVERS``; run once per deployment (compose does).
- ``migrate``: create every service's MongoDB indexes, against ``MONGO_URL`` (idempotent;
  ``--service NAME`` for one: each pod's init container runs it for its own service).
- ``replay-dlq TOPIC``: re-publish a dead-letter topic's records to their original topics
  (after the cause is fixed); resumes where the last replay stopped.
- ``rebuild SERVICE``: make the service's read models again from the event stream in another
  database (``--into``) and compare them with the live ones; exits 1 if they differ;
  ``--replace`` (the service stopped) then puts them in place of the live ones.
- ``asyncapi``: print the AsyncAPI document of the topics.
- ``token``: mint a development bearer token signed with ``AUTH_JWT_SECRET`` (refused when
  ``ENVIRONMENT=production``: real tokens come from the identity provider).
"""

import argparse
import asyncio
import json
from datetime import timedelta

from kernel.auth import TOKEN_ROLES, issue_token
from kernel.kafka import ensure_topics
from kernel.replay import replay
from kernel.runner import SERVICES
from kernel.settings import ServiceSettings
from schemas.complaint import Role
from schemas.topics import all_topics
from services.asyncapi import asyncapi_document


def main(argv: list[str] | None = None) -> None:
    """Dispatch one admin command."""
    parser = argparse.ArgumentParser(prog="lapor-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-topics", help="create every topic the platform needs")
    migrate_cmd = commands.add_parser("migrate", help="create every service's MongoDB indexes")
    migrate_cmd.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="only this service's database (repeatable; a pod's init container migrates its own)",
    )
    replay_cmd = commands.add_parser("replay-dlq", help="re-publish a dead-letter topic")
    replay_cmd.add_argument("topic", help="e.g. lapor.dlq.routing")
    replay_cmd.add_argument("--limit", type=int, help="at most this many records")
    replay_cmd.add_argument("--dry-run", action="store_true", help="count, send nothing")
    replay_cmd.add_argument("--from-start", action="store_true", help="ignore earlier replays")
    rebuild_cmd = commands.add_parser(
        "rebuild", help="rebuild a service's read models from the stream and compare"
    )
    rebuild_cmd.add_argument("service", choices=SERVICES)
    rebuild_cmd.add_argument(
        "--into", help="database to rebuild into (emptied first); default lapor_<service>_rebuilt"
    )
    rebuild_cmd.add_argument(
        "--replace",
        action="store_true",
        help="then put the rebuilt read models in place of the live ones (service stopped)",
    )
    commands.add_parser("asyncapi", help="print the AsyncAPI document")
    token = commands.add_parser("token", help="mint a development bearer token")
    token.add_argument("--role", required=True, choices=sorted(TOKEN_ROLES))
    token.add_argument("--sub", required=True, help="the user's ID")
    token.add_argument("--agency", help="agency_id claim (agency admins, unit officers)")
    token.add_argument("--unit", help="unit_id claim (unit officers)")
    token.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args(argv)
    if args.command == "create-topics":
        settings = ServiceSettings(service_name="admin")
        asyncio.run(ensure_topics(settings, all_topics()))
        for topic in all_topics():
            print(f"{topic.name}\t{topic.partitions}\t{topic.config()}")
    elif args.command == "migrate":
        from services.migrate import migrate  # the services' stores: only this command needs them

        base = ServiceSettings(service_name="admin")
        for database in asyncio.run(migrate(base, only=args.service)):
            print(f"indexes ready in {database}")
    elif args.command == "replay-dlq":
        report = asyncio.run(
            replay(
                ServiceSettings(service_name="admin"),
                args.topic,
                limit=args.limit,
                dry_run=args.dry_run,
                from_start=args.from_start,
            )
        )
        print(
            json.dumps({"replayed": report.replayed, "skipped": report.skipped, **report.by_topic})
        )
    elif args.command == "rebuild":
        from services.rebuild import rebuild  # imports every service: only this command needs it

        rebuilt = asyncio.run(
            rebuild(
                args.service,
                into=args.into or f"lapor_{args.service}_rebuilt",
                replace=args.replace,
            )
        )
        print(
            json.dumps(
                {
                    "records": rebuilt.records,
                    "applied": rebuilt.applied,
                    "ignored": rebuilt.ignored,
                    "rejected": rebuilt.rejected,
                    "equal": rebuilt.equal,
                    "collections": {
                        name: {
                            "live": c.live,
                            "rebuilt": c.rebuilt,
                            "missing": [str(i) for i in c.missing[:20]],
                            "extra": [str(i) for i in c.extra[:20]],
                            "different": {
                                str(i): fields for i, fields in list(c.different.items())[:20]
                            },
                        }
                        for name, c in rebuilt.collections.items()
                    },
                },
                indent=2,
            )
        )
        if not rebuilt.equal and not args.replace:
            raise SystemExit(1)
    elif args.command == "token":
        settings = ServiceSettings(service_name="admin")
        if settings.environment == "production":
            parser.error("tokens are not minted in production; use the identity provider")
        print(
            issue_token(
                settings,
                role=Role(args.role),
                subject=args.sub,
                agency_id=args.agency,
                unit_id=args.unit,
                lifetime=timedelta(hours=args.hours),
            )
        )
    else:
        print(json.dumps(asyncapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

"""``lapor-service NAME``: run one service under uvicorn, shutting down gracefully on SIGTERM."""

import argparse
import importlib

import uvicorn

from kernel.logging import configure_logging

SERVICES = ("intake", "routing", "sla", "notify", "standards")
# Front ends: no broker or database of their own; they call the services' public APIs.
FRONT_ENDS = ("portal",)


def main(argv: list[str] | None = None) -> None:
    """Build the named service from the environment and serve it until told to stop."""
    parser = argparse.ArgumentParser(prog="lapor-service", description=__doc__)
    parser.add_argument("service", choices=(*SERVICES, *FRONT_ENDS))
    args = parser.parse_args(argv)
    module = importlib.import_module(f"services.{args.service}.app")
    settings = module.Settings()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    app = module.create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        lifespan="on",
        # Behind an ingress the client address comes from X-Forwarded-For, trusted only from
        # these addresses (the per-address rate limit depends on it).
        proxy_headers=True,
        forwarded_allow_ips=settings.http_trusted_proxies,
    )


if __name__ == "__main__":
    main()

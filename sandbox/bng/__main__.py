"""Run the BNG sandbox: ``python -m sandbox.bng --port 8702 --seed-demo``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from clients.logging import configure_logging
from sandbox.bng.app import create_app
from sandbox.bng.config import BngSandboxConfig

# The same default secret as settings.py, so the demo works without any configuration.
DEMO_WEBHOOK_SECRET = "whsec_bTNibmctZGVtby13ZWJob29rLXNlY3JldC0zMmI="


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.bng", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--db", type=Path, help="SQLite file (default: in memory, lost on exit)")
    parser.add_argument(
        "--webhook-url", help="Where to send webhooks, e.g. http://127.0.0.1:8700/webhooks/bng"
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("M3BNG_BNG_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET),
        help="whsec_... (default: $M3BNG_BNG_WEBHOOK_SECRET or the demo secret)",
    )
    parser.add_argument(
        "--webhook-events",
        default="",
        help="Comma-separated event types that endpoint subscribes to, e.g. order.created,payment.* "
        "(default: every type)",
    )
    parser.add_argument("--client-id", default="m3bng")
    parser.add_argument("--client-secret", default=os.environ.get("M3BNG_BNG_CLIENT_SECRET", "m3bng-secret"))
    parser.add_argument("--api-key", action="append", default=[], help="Accept this X-API-Key (repeatable)")
    parser.add_argument("--rate-limit", type=float, help="Requests per second per client")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--duplicate-delivery-rate", type=float, default=0.0)
    parser.add_argument("--seed-demo", action="store_true", help="Load demo products and customers")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    configure_logging(args.log_level, json=False)
    database_url = "sqlite://"
    if args.db:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{args.db}"
    config = BngSandboxConfig(
        database_url=database_url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        api_keys=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret if args.webhook_url else None,
        webhook_events=[event for event in args.webhook_events.split(",") if event],
        rate_limit_per_second=args.rate_limit,
        latency_ms=args.latency_ms,
        duplicate_delivery_rate=args.duplicate_delivery_rate,
        seed_demo=args.seed_demo,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level.lower())


if __name__ == "__main__":
    main()

"""`python -m sandbox.m3 --port 8701 --db var/m3-sandbox.db --ionapi-out var/m3.ionapi --seed-demo ...`"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from sandbox.m3.app import create_app
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.ionapi import write_ionapi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.m3", description="Run the M3 sandbox tenant.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--db", help="SQLite file for the tenant's state (default: in memory)")
    parser.add_argument("--ionapi-out", type=Path, help="where to write the .ionapi credentials file")
    parser.add_argument("--bod-endpoint", help="IMS multipart URL that BODs are POSTed to")
    parser.add_argument(
        "--bod-authorization",
        default=os.environ.get("M3BNG_M3_BOD_AUTHORIZATION"),
        help="Authorization header value for BOD posts, e.g. 'Bearer abc' "
        "(default: $M3BNG_M3_BOD_AUTHORIZATION, else none)",
    )
    parser.add_argument("--advance-every", type=float, help="advance every open order one step per N seconds")
    parser.add_argument("--seed-demo", action="store_true", help="load the demo customers and items")
    parser.add_argument("--tenant", default=M3SandboxConfig.model_fields["tenant"].default)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    public_base_url = f"http://{args.host}:{args.port}"
    database_url = "sqlite://"
    if args.db:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{args.db}"
    config = M3SandboxConfig(
        tenant=args.tenant,
        database_url=database_url,
        bod_endpoint=args.bod_endpoint,
        bod_authorization=args.bod_authorization,
        lifecycle_interval_seconds=args.advance_every,
        public_base_url=public_base_url,
    )
    if args.ionapi_out:
        write_ionapi(args.ionapi_out, config, public_base_url)
        print(f"wrote {args.ionapi_out}")
    uvicorn.run(
        create_app(config, seed_demo=args.seed_demo), host=args.host, port=args.port, log_level="info"
    )


if __name__ == "__main__":
    main()

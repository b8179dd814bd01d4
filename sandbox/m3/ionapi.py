"""Write the `.ionapi` credentials file a client loads, as API Gateway's "Download Credentials" does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.m3.config import M3SandboxConfig


def ionapi_document(config: M3SandboxConfig, base_url: str) -> dict[str, Any]:
    base_url = base_url.rstrip("/")
    return {
        "ti": config.tenant,
        "cn": f"CR_IMS_{config.tenant}",
        "dt": "12",
        "ci": config.client_id,
        "cs": config.client_secret,
        "iu": base_url,
        "pu": f"{base_url}/{config.tenant}/as/",
        "oa": "authorization.oauth2",
        "ot": "token.oauth2",
        "or": "revoke_token.oauth2",
        "ev": "U000000001",
        "v": "1.0",
        "saak": config.saak,
        "sask": config.sask,
    }


def write_ionapi(path: str | Path, config: M3SandboxConfig, base_url: str | None = None) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = ionapi_document(config, base_url or config.public_base_url)
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return target

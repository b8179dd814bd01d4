"""The ``.ionapi`` credentials file downloaded from ION API Gateway (Authorized Apps)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class IonApiFile(BaseModel):
    """A Backend Service ``.ionapi`` file. Unknown keys are ignored; secrets never appear in ``repr``."""

    # coerce_numbers_to_str: some tools write "dt": 12 or "v": 1.0 as numbers.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, coerce_numbers_to_str=True)

    ti: str = Field(description="Tenant id, e.g. ACME_TST")
    cn: str = Field(description="Authorized app name")
    ci: str = Field(description="OAuth client_id")
    cs: SecretStr = Field(description="OAuth client_secret")
    iu: str = Field(description="ION API gateway base URL")
    pu: str = Field(description="Authorization server base URL, ending in /as/")
    ot: str = Field(default="token.oauth2", description="Token endpoint path")
    or_: str = Field(default="revoke_token.oauth2", alias="or", description="Revocation endpoint path")
    oa: str = Field(default="authorization.oauth2", description="Authorization endpoint path")
    # Service-account keys: saak is the OAuth username (already "TENANT#..."), sask its password.
    saak: str = Field(repr=False)
    sask: SecretStr
    # Present in every file, meaning undocumented: kept for completeness only.
    dt: str | None = None
    ev: str | None = None
    v: str | None = None
    ru: str | None = None

    @property
    def token_url(self) -> str:
        return _join(self.pu, self.ot)

    @property
    def revoke_url(self) -> str:
        return _join(self.pu, self.or_)

    @property
    def m3_base_url(self) -> str:
        return f"{self.iu.rstrip('/')}/{self.ti}/M3"


def load_ionapi(path: str | Path) -> IonApiFile:
    """Read a ``.ionapi`` file. Raises ``pydantic.ValidationError`` if a required key is missing."""
    # utf-8-sig: files saved by Windows tools may start with a BOM.
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    return IonApiFile.model_validate(data)


def _join(base: str, path: str) -> str:
    # pu normally ends in "/as/" and ot has no slash; tolerate either being off by one.
    return f"{base.rstrip('/')}/{path.lstrip('/')}"

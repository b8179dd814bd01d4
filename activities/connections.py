"""The long-lived connections every activity shares inside one worker process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from clients.bng.client import BngClient
from clients.m3.client import M3Client
from settings import Settings
from storage.db import make_engine, make_session_factory, upgrade_schema


@dataclass
class Connections:
    settings: Settings
    m3: M3Client
    bng: BngClient
    sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings) -> Connections:
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        m3 = M3Client.from_ionapi_file(
            settings.m3_ionapi,
            cono=settings.m3_cono,
            divi=settings.m3_divi,
            timeout=settings.m3_timeout_seconds,
            max_attempts=settings.m3_max_attempts,
        )
        bng = BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=settings.bng_client_secret.get_secret_value(),
            api_key=settings.bng_api_key.get_secret_value() if settings.bng_api_key else None,
        )
        return cls(settings=settings, m3=m3, bng=bng, sessions=make_session_factory(engine))

    async def aclose(self) -> None:
        await self.m3.aclose()
        await self.bng.aclose()

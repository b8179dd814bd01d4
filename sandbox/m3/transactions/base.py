"""What a transaction handler receives, and the registry that maps (program, transaction) to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.outbox import BodPublisher

Row = dict[str, Any]


class Record:
    """Validated input fields, already converted: A -> str, N -> Decimal, D -> date."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def has(self, name: str) -> bool:
        return name in self._values

    def text(self, name: str, default: str = "") -> str:
        value = self._values.get(name)
        return default if value is None else str(value)

    def decimal(self, name: str, default: Decimal | None = None) -> Decimal | None:
        value = self._values.get(name)
        return default if value is None else Decimal(value)

    def integer(self, name: str, default: int = 0) -> int:
        value = self._values.get(name)
        return default if value is None else int(value)

    def day(self, name: str, default: date | None = None) -> date | None:
        value = self._values.get(name)
        return default if value is None else value

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass
class Context:
    session: Session
    config: M3SandboxConfig
    bods: BodPublisher
    now: datetime
    # The call's maxrecs (0 = all rows): list handlers stop reading there.
    maxrecs: int = 0

    @property
    def limit(self) -> int | None:
        return self.maxrecs or None

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def timestamp(self) -> int:
        """LMTS: M3's change timestamp, here microseconds since the epoch."""
        return int(self.now.timestamp() * 1_000_000)


Handler = Callable[[Context, Record], list[Row]]

HANDLERS: dict[tuple[str, str], Handler] = {}


def mi(program: str, transaction: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[(program, transaction)] = handler
        return handler

    return register

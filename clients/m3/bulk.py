"""One transaction of a v2 bulk call, and what came back for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clients.m3.errors import M3BusinessError
from clients.m3.values import M3Value


@dataclass(frozen=True)
class M3Transaction:
    """E.g. ``M3Transaction("AddBatchLine", {"ORNO": orno, "ITNO": "BIKE-RED-26", "ORQT": 2})``."""

    transaction: str
    record: Mapping[str, M3Value] = field(default_factory=dict)
    selected_columns: Sequence[str] | None = None


@dataclass(frozen=True)
class M3TransactionResult:
    """The outcome of the transaction at the same position in the request."""

    transaction: str
    records: list[dict[str, str]]
    error: M3BusinessError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

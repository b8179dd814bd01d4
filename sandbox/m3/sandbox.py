"""One sandbox tenant: its state and collaborators, wired together."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.m3.auth import TokenIssuer
from sandbox.m3.calllog import CallLog
from sandbox.m3.chaos import Chaos
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import Store
from sandbox.m3.demo_data import seed_base, seed_demo
from sandbox.m3.executor import Executor
from sandbox.m3.outbox import BodPublisher, OutboxSender


@dataclass
class Sandbox:
    config: M3SandboxConfig
    store: Store = field(init=False)
    chaos: Chaos = field(init=False)
    calls: CallLog = field(init=False)
    issuer: TokenIssuer = field(init=False)
    sender: OutboxSender = field(init=False)
    bods: BodPublisher = field(init=False)
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.config.database_url)
        self.chaos = Chaos()
        self.calls = CallLog()
        self.issuer = TokenIssuer(self.config)
        self.sender = OutboxSender(
            self.store, self.config, redelivery_rate=lambda: self.chaos.knobs.bod_redelivery_rate
        )
        self.bods = BodPublisher(
            self.config, wake=self.sender.wake, master_data=lambda: self.chaos.knobs.master_data_bods
        )
        self.executor = Executor(self.store, self.config, self.bods, self.calls, self.chaos)
        with self.store.transaction() as session:
            seed_base(session, self.config)

    def seed_demo(self) -> None:
        with self.store.transaction() as session:
            seed_demo(session, self.config)

    def reset(self, *, demo: bool = False) -> None:
        """Empty every table (outbox included), clear knobs, faults and the call log; keep tokens."""
        self.store.reset()
        self.chaos.reset()
        self.calls.clear()
        with self.store.transaction() as session:
            (seed_demo if demo else seed_base)(session, self.config)

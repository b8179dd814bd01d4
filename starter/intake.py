"""Durable intake of new orders: ack from the store's inbox, start the workflow just after.

Temporal's start call is the receiver's ceiling (on a 2-core machine with the whole stack, about
150-200 starts/s with a p99 of 150-450 ms). An ``order.created`` webhook is therefore acked in
one of two ways:

- **direct**: while fewer than ``intake_direct_starts`` starts are in flight and this receiver's
  inbox is empty, the workflow is started before the ack (``outcome="started"``/``"duplicate"``),
  as a quiet receiver always did;
- **inbox**: otherwise (and when Temporal cannot be reached) the webhook is appended to the
  ``intake_inbox`` table and acked with ``outcome="accepted"`` once its row is committed. One
  writer task commits whatever requests are waiting in one transaction (group commit: one fsync
  for many acks). Forwarder tasks then start the workflows, with the same ids and policies as the
  direct path (``route_webhook`` without an intake), and delete the rows.

Every ack is durable either way: a row survives a crash after the 2xx. A row is leased to the
receiver that wrote or claimed it; after ``intake_lease_seconds`` another receiver, or this one
restarted, claims it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). A start is idempotent (the
workflow id is the order's), so forwarding a row twice starts one workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Concatenate, ParamSpec, TypeVar

import structlog
from sqlalchemy.orm import Session, sessionmaker
from temporalio.service import RPCError, RPCStatusCode

from clients import metrics
from starter.routed import Routed, Router
from starter.routing import keep_dead_letter, route_webhook
from storage import inbox
from storage.inbox import Claimed, NewEntry
from storage.models import EventSource
from workflows.models import order_workflow_id

log = structlog.get_logger("intake")
T = TypeVar("T")
P = ParamSpec("P")

# Answers that say "Temporal is not there right now": the order goes to the inbox instead.
TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
    }
)
# Rows one transaction writes at most; more simply wait for the next commit.
MAX_BATCH = 512
# Finished rows are deleted together, at most this often.
DELETE_EVERY_SECONDS = 0.05
MAX_RETRY_SECONDS = 60.0
# The intake counts as busy for this long after a commit (see Intake._until_quiet).
BUSY_SECONDS = 0.2
# How long a receiver that stops waits for the writes still queued.
CLOSE_WAIT_SECONDS = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Pending:
    entry: NewEntry
    committed: asyncio.Future[Claimed] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Intake:
    """The receiver's ``OrderIntake`` (see ``starter.routing.route_webhook``)."""

    def __init__(
        self,
        router: Router,
        *,
        direct_starts: int,
        forwarders: int,
        lease_seconds: float,
        poll_seconds: float,
        hold_seconds: float,
    ) -> None:
        self.router = router
        self.sessions: sessionmaker[Session] = router.sessions
        self.direct_starts = direct_starts
        self.forwarders = forwarders
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.hold_seconds = hold_seconds
        self._direct_in_flight = 0
        self._writes: asyncio.Queue[_Pending] = asyncio.Queue()
        self._to_forward: asyncio.Queue[Claimed] = asyncio.Queue()
        self._held: set[int] = set()  # rows this receiver holds, not yet forwarded
        self._finished: list[int] = []  # forwarded, to delete
        self._last_commit = 0.0  # monotonic time of the writer's last commit
        self._tasks: list[asyncio.Task[None]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-store")

    @classmethod
    def from_router(cls, router: Router) -> Intake:
        settings = router.settings
        return cls(
            router,
            direct_starts=settings.intake_direct_starts,
            forwarders=settings.intake_forwarders,
            lease_seconds=settings.intake_lease_seconds,
            poll_seconds=settings.intake_poll_seconds,
            hold_seconds=settings.intake_hold_seconds,
        )

    # --- the request side ---------------------------------------------------------------------

    async def take(
        self, order_id: str, webhook_id: str, body: bytes, start_now: Callable[[], Awaitable[Routed]]
    ) -> Routed:
        if self._direct_in_flight < self.direct_starts and not self._held and self._writes.empty():
            self._direct_in_flight += 1
            try:
                return await start_now()
            except RPCError as error:
                if error.status not in TRANSIENT:
                    raise
                log.warning("Temporal unavailable: order kept in the inbox", order_id=order_id, error=error)
            finally:
                self._direct_in_flight -= 1
        await self.append(EventSource.BNG_WEBHOOK, webhook_id, order_id, body)
        return Routed(outcome="accepted", workflow_id=order_workflow_id(order_id))

    async def append(self, source: EventSource, event_id: str, business_key: str | None, body: bytes) -> None:
        """Return once the webhook is committed in the inbox; raises if the store refused it."""
        pending = _Pending(NewEntry(source.value, event_id, business_key, body.decode(), _now()))
        self._writes.put_nowait(pending)
        await asyncio.shield(pending.committed)  # a client that hangs up does not undo the write

    # --- background tasks ---------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write_loop(), name="intake-writer")]
        if not self.forwarders:
            return  # acks only: the rows wait for a receiver that forwards
        self._tasks += [
            asyncio.create_task(self._poll_loop(), name="intake-poller"),
            asyncio.create_task(self._delete_loop(), name="intake-deleter"),
            *(
                asyncio.create_task(self._forward_loop(number), name=f"intake-forwarder-{number}")
                for number in range(self.forwarders)
            ),
        ]

    async def aclose(self) -> None:
        """Stop forwarding; give back what this receiver holds so the next one starts it at once."""
        for _ in range(int(CLOSE_WAIT_SECONDS / BUSY_SECONDS)):
            if self._writes.empty():
                break  # nothing acked is left uncommitted
            await asyncio.sleep(BUSY_SECONDS)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._delete_finished()
        if held := sorted(self._held):
            now = _now()
            await self._store(inbox.release, held, now=now)
            self._held.clear()
        metrics.INTAKE_INBOX_DEPTH.set(0)
        self._executor.shutdown(wait=False)

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._writes.get()]
            while len(batch) < MAX_BATCH and not self._writes.empty():
                batch.append(self._writes.get_nowait())
            lease_until = inbox.lease_from(_now(), self.lease_seconds)
            entries = [pending.entry for pending in batch]
            try:
                claimed = await self._store(inbox.add_many, entries, lease_until=lease_until)
            except Exception as error:  # the store refused: each waiting request answers 5xx
                log.exception("inbox commit failed", batch=len(batch))
                for pending in batch:
                    if not pending.committed.done():
                        pending.committed.set_exception(error)
                continue
            metrics.INTAKE_COMMIT_BATCH.observe(len(batch))
            self._last_commit = time.monotonic()
            for pending, row in zip(batch, claimed, strict=True):
                if self.forwarders:
                    self._hold(row)
                if not pending.committed.done():
                    pending.committed.set_result(row)

    async def _poll_loop(self) -> None:
        """Claim rows whose lease ran out: left by a crash, another receiver, or a failed start."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            if self._to_forward.qsize() >= MAX_BATCH:
                continue  # busy with its own rows; the lease keeps the others for whoever is free
            now = _now()
            lease_until = inbox.lease_from(now, self.lease_seconds)
            try:
                claimed = await self._store(
                    inbox.claim_expired, now=now, lease_until=lease_until, limit=MAX_BATCH
                )
            except Exception:
                log.exception("inbox claim failed")
                continue
            for row in claimed:
                self._hold(row)

    async def _forward_loop(self, number: int) -> None:
        while True:
            if number > 0:
                await self._until_quiet()
            row = await self._to_forward.get()
            if row.id not in self._held:
                continue  # taken twice (claimed again after its lease ran out): already handled
            if number == 0:  # the oldest row: it waits at most hold_seconds
                await self._until_quiet(due=row.received_at.timestamp() + self.hold_seconds)
            await self._forward(row)

    async def _forward(self, row: Claimed) -> None:
        try:
            routed = await route_webhook(self.router, row.body.encode(), row.event_id)
            if routed.dead:
                await keep_dead_letter(
                    self.router,
                    routed,
                    source=EventSource.BNG_WEBHOOK,
                    body=row.body.encode(),
                    event_id=row.event_id,
                    headers={"webhook-id": row.event_id},
                )
            metrics.INTAKE_FORWARDED.labels(routed.outcome).inc()
        except Exception as error:
            await self._retry_later(row, error)
            return
        metrics.INTAKE_FORWARD_SECONDS.observe((_now() - row.received_at).total_seconds())
        self._held.discard(row.id)
        self._finished.append(row.id)
        metrics.INTAKE_INBOX_DEPTH.set(len(self._held))

    async def _until_quiet(self, *, due: float | None = None) -> None:
        """Wait while webhooks are being acked (or until the wall-clock time ``due``): on a small
        machine the starts, and the work they set off, would take the CPU that keeps the acks
        fast. The first forwarder's ``due`` keeps a steady stream from holding rows for ever."""
        while time.monotonic() - self._last_commit < BUSY_SECONDS and (due is None or time.time() < due):
            await asyncio.sleep(BUSY_SECONDS)

    async def _retry_later(self, row: Claimed, error: Exception) -> None:
        delay = min(MAX_RETRY_SECONDS, 2.0 ** min(row.attempts, 10))
        log.warning("forwarding an inbox row failed; retrying", row=row.id, delay=delay, error=str(error))
        metrics.INTAKE_FORWARDED.labels("retry").inc()
        self._held.discard(row.id)
        metrics.INTAKE_INBOX_DEPTH.set(len(self._held))
        at = inbox.lease_from(_now(), delay)
        with contextlib.suppress(Exception):  # if even this fails, the lease runs out all the same
            await self._store(inbox.retry_later, row.id, error=f"{type(error).__name__}: {error}", at=at)

    async def _delete_loop(self) -> None:
        while True:
            await asyncio.sleep(DELETE_EVERY_SECONDS)
            try:
                await self._delete_finished()
            except Exception:
                log.exception("deleting forwarded inbox rows failed")  # forwarded again later: harmless

    async def _delete_finished(self) -> None:
        done, self._finished = self._finished, []
        if done:
            try:
                await self._store(inbox.remove, done)
            except Exception:
                self._finished.extend(done)
                raise

    def _hold(self, row: Claimed) -> None:
        self._held.add(row.id)
        self._to_forward.put_nowait(row)
        metrics.INTAKE_INBOX_DEPTH.set(len(self._held))

    async def _store(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``work(session, ...)`` in one transaction, in the inbox's own thread: the fsync blocks,
        and the inbox's transactions queue there rather than on SQLite's lock, whose busy handler
        sleeps up to 100 ms at a time (one ack stalled 200 ms behind a delete otherwise)."""

        def run() -> T:
            with self.sessions.begin() as session:
                return work(session, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

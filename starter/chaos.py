"""``make chaos``: exactly once and "nothing fails" under harsh weather, checked in the systems' tables.

The run starts its own embedded stack in ``var/chaos/`` (wiped first, free ports, so ``make run``
data and a running stack are untouched) and turns the sandboxes' weather on: M3 loses answers after
committing, fails calls with 5xx, throttles with 429 and redelivers BODs; BNG loses answers,
fails calls, delivers webhooks twice and out of order. While N orders are placed in BNG and
master data changes on both sides, the worker, the receiver and the Temporal server are SIGKILLed
(the stack's supervisor starts them again). The run pays every order BNG shows as invoiced, as the
demo's customer does. Then the weather stops, the orders settle, and ``starter.chaos_report``
reconciles BNG, M3, Temporal and the store. Exit code 1 if anything was duplicated, lost, orphaned,
paid twice, failed, unsettled or parked without a reason.

    python -m starter.chaos --orders 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from temporalio.client import Client

from clients.bng.client import BngClient
from clients.bng.models import Address, Customer, Order
from clients.logging import configure_logging
from clients.m3 import M3BusinessError, M3Client
from clients.temporal_connection import connect
from sandbox.bng.demo_data import make_demo_orders
from sandbox.serve import free_port
from settings import Settings
from starter.chaos_report import ChaosFigures, print_report, read_rows, reconcile, to_json
from starter.schedules import ensure_reconcile_schedules
from starter.secrets import with_demo_secrets
from starter.stack import EmbeddedStack

CHAOS_VAR = Path("var/chaos")
ORDER_WORKFLOWS = 'WorkflowType="OrderToCashWorkflow"'
SETTLED_QUERY = (
    f'{ORDER_WORKFLOWS} AND (OrderStage="Paid" OR OrderStage="NeedsAttention" OR OrderStage="Cancelled")'
)
# The demo customers each side changes: different ones, so the run makes no sync conflicts itself.
BNG_CHANGED_CUSTOMER = "CUST-1001"
M3_CHANGED_CUSTOMER = ("CUST-1002", "C000000002")
BNG_CHANGED_PRODUCT = "LIGHT-SET"


def m3_weather(rate_limit: float) -> dict[str, Any]:
    return {
        "lost_answer_rate": 0.1,
        "lost_answer_status": 504,
        "error_rate_5xx": 0.05,
        "error_5xx_statuses": [500, 502, 503, 504],
        "rate_limit_per_second": rate_limit,
        "bod_redelivery_rate": 0.2,
    }


BNG_WEATHER: dict[str, Any] = {
    "lost_answer_rate": 0.1,
    "error_rate_5xx": 0.05,
    "duplicate_delivery_rate": 0.3,
    "delivery_jitter_ms": 300,
}
# null puts a knob back to its default (off) in both sandboxes.
M3_CALM = {
    "lost_answer_rate": None,
    "error_rate_5xx": None,
    "rate_limit_per_second": None,
    "bod_redelivery_rate": None,
}
BNG_CALM = {name: None for name in BNG_WEATHER}


@dataclass
class ChaosConfig:
    orders: int = 300
    order_rate: float = 5.0  # orders placed per second
    worker_kills: int = 3
    receiver_kills: int = 1
    temporal_kills: int = 1
    master_changes: int = 12
    m3_step_seconds: float = 0.5
    m3_rate_limit: float = 40.0  # M3 calls per second before 429: above the run's average, below its peaks
    settle_timeout: float = 900.0
    var: Path = CHAOS_VAR
    seed: int = 0


@dataclass
class Kill:
    target: str  # the stack's child: worker, receiver, temporal
    at: float  # planned, seconds after the load started
    killed_at: float | None = None
    pid: int | None = None
    back_after: float | None = None  # until the restarted child answered again


@dataclass
class RunLog:
    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)
    driver_errors: list[str] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def event(self, what: str, console: Console | None = None) -> None:
        self.events.append((self.now(), what))
        if console is not None:
            console.print(f"[dim]{self.now():7.1f}s[/] {what}")

    async def until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.now()))


def plan_violence(config: ChaosConfig, window: float) -> list[Kill]:
    """The kills, evenly spread over ``window``, never the same child twice in a row."""
    left = {
        "worker": config.worker_kills,
        "receiver": config.receiver_kills,
        "temporal": config.temporal_kills,
    }
    order: list[str] = []
    while any(left.values()):
        choices = [t for t in left if left[t] and (not order or t != order[-1])] or [
            t for t in left if left[t]
        ]
        target = max(choices, key=lambda t: left[t])
        order.append(target)
        left[target] -= 1
    step = window / (len(order) + 1)
    return [Kill(target, round(step * (i + 1), 1)) for i, target in enumerate(order)]


# --- the load -------------------------------------------------------------------------------------


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def retried(what: str, log: RunLog, call: Any, attempts: int = 8) -> Any:
    """The driver's own writes are idempotent (keys, absolute values): resending is safe."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except M3BusinessError:
            raise
        except Exception as error:
            if _cancelling():
                raise  # a library turned our cancellation into its own error: do not retry it
            if attempt == attempts:
                log.driver_errors.append(f"{what}: {error!r}"[:300])
                return None
            await asyncio.sleep(min(2.0 * attempt, 8.0))
    return None


async def place_orders(bng: BngClient, orders: list[Order], rate: float, log: RunLog) -> list[str]:
    placed = []
    for order in orders:
        key = f"chaos-{order.OrderID}"
        # One key for every attempt: a lost answer must not place the order twice.
        if await retried(
            f"place {order.OrderID}", log, lambda o=order, k=key: bng.create_order(o, idempotency_key=k)
        ):
            placed.append(order.OrderID)
        await asyncio.sleep(1 / rate)
    return placed


async def pay_invoiced(bng: BngClient, paid: set[str], stop: asyncio.Event, log: RunLog) -> None:
    """Play the customer: pay each order once BNG shows its invoice. The PaymentID is derived
    from the order, so a resent capture is the same payment, never a second one."""
    while not stop.is_set():
        try:
            async for order in bng.iter_orders():
                if order.Invoice is None or order.OrderID in paid:
                    continue
                payment_id = f"PAY-{order.OrderID}"
                invoice = order.Invoice
                done = await retried(
                    f"pay {order.OrderID}",
                    log,
                    lambda o=order.OrderID, i=invoice, p=payment_id: bng.capture_payment(
                        o, amount=i.TotalAmount, currency=i.Currency, payment_id=p
                    ),
                )
                if done:
                    paid.add(order.OrderID)
        except Exception as error:  # a page failed in the weather: the next pass goes on
            if _cancelling():
                raise
            log.driver_errors.append(f"listing orders: {error!r}"[:300])
        await asyncio.sleep(1.0)


@dataclass
class MasterDataExpectations:
    """The last value each side was given: after settling, the other side must show it."""

    bng_phone: str | None = None  # BNG_CHANGED_CUSTOMER, expected in M3
    m3_phone: str | None = None  # M3_CHANGED_CUSTOMER, expected in BNG
    description: str | None = None  # BNG_CHANGED_PRODUCT's FUDS, expected in M3
    new_customers: list[str] = field(default_factory=list)  # created in BNG, expected in M3


async def change_master_data(
    bng: BngClient, m3: M3Client, count: int, window: float, log: RunLog, expect: MasterDataExpectations
) -> None:
    for n in range(count):
        await log.until(window * (n + 0.5) / max(count, 1))
        kind = n % 4
        if kind == 0:
            customer = _new_customer(n)
            if await retried(
                f"create {customer.CustomerID}",
                log,
                lambda c=customer: bng.create_customer(c, idempotency_key=f"chaos-{c.CustomerID}"),
            ):
                expect.new_customers.append(customer.CustomerID)
                log.event(f"BNG: customer {customer.CustomerID} created")
        elif kind == 1:
            phone = f"+49 30 770{n:04d}"
            if await retried(
                "patch BNG phone",
                log,
                lambda p=phone: bng.update_customer(BNG_CHANGED_CUSTOMER, {"Phone": p}),
            ):
                expect.bng_phone = phone
                log.event(f"BNG: {BNG_CHANGED_CUSTOMER} phone {phone}")
        elif kind == 2:
            text = f"Chaos-tested light set, revision {n}"
            if await retried(
                "patch BNG product",
                log,
                lambda t=text: bng.update_product(BNG_CHANGED_PRODUCT, {"Description": t}),
            ):
                expect.description = text
                log.event(f"BNG: {BNG_CHANGED_PRODUCT} description revision {n}")
        else:
            phone = f"+44 20 880{n:04d}"
            record = {"CUNO": M3_CHANGED_CUSTOMER[1], "PHNO": phone}
            if (
                await retried(
                    "M3 ChgBasicData",
                    log,
                    lambda r=record: m3.execute("CRS610MI", "ChgBasicData", r, write=True),
                )
                is not None
            ):
                expect.m3_phone = phone
                log.event(f"M3: {M3_CHANGED_CUSTOMER[1]} PHNO {phone} (CRS610MI/ChgBasicData)")


def _new_customer(n: int) -> Customer:
    address = Address(Line1=f"Chaosweg {n + 1}", City="Leipzig", PostalCode=f"04{n:03d}", Country="DE")
    return Customer(
        CustomerID=f"CHAOS-{n:04d}",
        CompanyName=f"Chaos Cycles {n}",
        FirstName="Ada",
        LastName=f"Storm{n}",
        Email=f"chaos{n}@cycles.example",
        Phone=f"+49 341 {n:05d}",
        BillingAddress=address,
        ShippingAddress=address,
        CreditLimit=Decimal("5000"),
    )


# --- violence -------------------------------------------------------------------------------------


async def _answers(stack: EmbeddedStack, client: Client, target: str) -> bool:
    if target == "temporal":
        try:  # a real call: the port opens before the server can answer
            await client.count_workflows(ORDER_WORKFLOWS, rpc_timeout=timedelta(seconds=2))
            return True
        except Exception:
            return False
    if target == "receiver":
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(f"{stack.receiver_url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False
    return True  # the worker has no port: being started again is all one can see


async def violence(
    stack: EmbeddedStack, client: Client, plan: list[Kill], log: RunLog, console: Console
) -> None:
    for kill in plan:
        await log.until(kill.at)
        process = stack.processes[kill.target]
        kill.pid, kill.killed_at = process.pid, log.now()
        process.send_signal(signal.SIGKILL)
        log.event(f"[bold red]SIGKILL[/] {kill.target} (pid {kill.pid})", console)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = stack.processes[kill.target]
            if (
                current.pid != kill.pid
                and current.poll() is None
                and await _answers(stack, client, kill.target)
            ):
                kill.back_after = round(log.now() - kill.killed_at, 2)
                log.event(f"{kill.target} is back after {kill.back_after:.1f}s (pid {current.pid})", console)
                break
            await asyncio.sleep(0.2)


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Ports:
    temporal: int
    temporal_ui: int
    receiver: int
    m3: int
    bng: int

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port())


def chaos_settings(var: Path, ports: Ports) -> Settings:
    """Settings for the chaos stack, exported to the environment for its child processes."""
    database_url = f"sqlite:///{var / 'm3bng.db'}"
    os.environ.update(
        {
            "M3BNG_TEMPORAL_ADDRESS": f"127.0.0.1:{ports.temporal}",
            "M3BNG_RECEIVER_PORT": str(ports.receiver),
            "M3BNG_BNG_BASE_URL": f"http://127.0.0.1:{ports.bng}",
            "M3BNG_M3_IONAPI": str(var / "m3.ionapi"),
            # Both names: DATABASE_URL wins over M3BNG_DATABASE_URL when set.
            "DATABASE_URL": database_url,
            "M3BNG_DATABASE_URL": database_url,
        }
    )
    return with_demo_secrets(Settings(), path=var / "secrets.env")


async def settle(client: Client, total: int, timeout: float, log: RunLog, console: Console) -> bool:
    deadline = time.monotonic() + timeout
    last_print = 0.0
    while time.monotonic() < deadline:
        try:
            settled = (await client.count_workflows(SETTLED_QUERY)).count
        except Exception:
            settled = -1  # Temporal is restarting
        if settled >= total:
            return True
        if time.monotonic() - last_print > 10:
            console.print(f"[dim]{log.now():7.1f}s[/] settled {settled}/{total}")
            last_print = time.monotonic()
        await asyncio.sleep(1.0)
    return False


async def progress(client: Client, total: int, log: RunLog, console: Console, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(10)
        try:
            settled = (await client.count_workflows(SETTLED_QUERY)).count
            started = (await client.count_workflows(ORDER_WORKFLOWS)).count
            console.print(f"[dim]{log.now():7.1f}s[/] workflows {started}/{total}, settled {settled}")
        except Exception:
            console.print(f"[dim]{log.now():7.1f}s[/] (Temporal not answering)")


async def converged(var: Path, expect: MasterDataExpectations, timeout: float = 90) -> list[str]:
    """What the master-data changes should have done on the other side and has not (yet)."""
    deadline = time.monotonic() + timeout
    while True:
        m3_db, bng_db = var / "m3-sandbox.db", var / "bng-sandbox.db"
        m3_phone = {r["CUNO"]: r["PHNO"] for r in read_rows(m3_db, "SELECT CUNO, PHNO FROM OCUSMA")}
        m3_fuds = {r["ITNO"]: r["FUDS"] for r in read_rows(m3_db, "SELECT ITNO, FUDS FROM MITMAS")}
        customers = {
            r["key"]: r["body"]
            for r in read_rows(bng_db, "SELECT key, body FROM documents WHERE kind='customer'")
        }
        bng_customers = {key: json.loads(body) for key, body in customers.items()}
        missing = []
        if expect.bng_phone and m3_phone.get("C000000001") != expect.bng_phone:
            missing.append(f"M3 C000000001 PHNO {m3_phone.get('C000000001')!r} != BNG {expect.bng_phone!r}")
        bng_phone = bng_customers.get(M3_CHANGED_CUSTOMER[0], {}).get("Phone")
        if expect.m3_phone and bng_phone != expect.m3_phone:
            missing.append(f"BNG {M3_CHANGED_CUSTOMER[0]} Phone {bng_phone!r} != M3 {expect.m3_phone!r}")
        if expect.description and m3_fuds.get(BNG_CHANGED_PRODUCT) != expect.description:
            missing.append(f"M3 {BNG_CHANGED_PRODUCT} FUDS {m3_fuds.get(BNG_CHANGED_PRODUCT)!r}")
        for customer_id in expect.new_customers:
            cuno = bng_customers.get(customer_id, {}).get("ExternalID")
            if not cuno or cuno not in m3_phone:
                missing.append(f"{customer_id} not linked to an M3 customer (ExternalID {cuno!r})")
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(2)


async def run_chaos(config: ChaosConfig, console: Console) -> tuple[ChaosFigures, dict[str, Any]]:
    var = config.var.resolve()
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    ports = Ports.free()
    settings = chaos_settings(var, ports)
    stack = EmbeddedStack(
        settings,
        lifecycle_seconds=config.m3_step_seconds,
        var=var,
        m3_port=ports.m3,
        bng_port=ports.bng,
        temporal_port=ports.temporal,
        temporal_ui_port=ports.temporal_ui,
        worker_metrics_port=free_port(),
    )
    log = RunLog()
    console.print(
        f"[bold]Chaos run[/]: {config.orders} orders, stack in {var} (Temporal UI :{ports.temporal_ui})"
    )
    try:
        stack.start()
        stack_seconds = log.now()
        client = await connect(settings)
        await ensure_reconcile_schedules(client, settings)
        async with (
            BngClient(
                settings.bng_base_url,
                client_id=settings.bng_client_id,
                client_secret=settings.bng_client_secret.get_secret_value(),
            ) as bng,
            M3Client.from_ionapi_file(settings.m3_ionapi, cono=settings.m3_cono) as m3,
            httpx.AsyncClient(timeout=30) as admin,
        ):
            (
                await admin.post(f"{stack.m3_url}/_sandbox/knobs", json=m3_weather(config.m3_rate_limit))
            ).raise_for_status()
            (await admin.post(f"{stack.bng_url}/_sandbox/knobs", json=BNG_WEATHER)).raise_for_status()
            log.started = time.monotonic()  # times below count from the load's start
            log.event("weather on", console)
            orders = make_demo_orders(config.orders, seed=config.seed, start_number=10001)
            placing_seconds = config.orders / config.order_rate
            window = max(
                1.5 * placing_seconds,
                12.0 * (config.worker_kills + config.receiver_kills + config.temporal_kills),
            )
            plan = plan_violence(config, window)
            expect = MasterDataExpectations()
            paid: set[str] = set()
            stop = asyncio.Event()
            payer = asyncio.create_task(pay_invoiced(bng, paid, stop, log))
            watcher = asyncio.create_task(progress(client, config.orders, log, console, stop))
            placed, *_ = await asyncio.gather(
                place_orders(bng, orders, config.order_rate, log),
                violence(stack, client, plan, log, console),
                change_master_data(bng, m3, config.master_changes, window, log, expect),
            )
            log.event(f"placed {len(placed)} orders; violence over", console)
            load_seconds = log.now()
            await admin.post(f"{stack.m3_url}/_sandbox/knobs", json=M3_CALM)
            await admin.post(f"{stack.bng_url}/_sandbox/knobs", json=BNG_CALM)
            log.event("weather off; waiting for every order to settle", console)
            settled = await settle(client, len(placed), config.settle_timeout, log, console)
            settle_seconds = round(log.now() - load_seconds, 1)
            log.event("settled" if settled else "[red]settle timeout[/]", console)
            diverged = await converged(var, expect) if settled else ["not checked: orders did not settle"]
            stop.set()
            await asyncio.gather(payer, watcher, return_exceptions=True)
            calls = (await admin.get(f"{stack.m3_url}/_sandbox/calls")).json()
            figures = await reconcile(
                client=client, var=var, database_url=settings.database_url, placed=placed, m3_calls=calls
            )
        figures.notes += [f"master data not converged: {d}" for d in diverged]
        figures.notes += [f"driver gave up: {e}" for e in log.driver_errors]
        run = {
            "orders": config.orders,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "weather": {"m3": m3_weather(config.m3_rate_limit), "bng": BNG_WEATHER},
            "kills": [asdict(k) for k in plan],
            "restarts": dict(stack.restarts),
            "events": log.events,
            "master_data": asdict(expect) | {"not_converged": diverged},
            "durations": f"{stack_seconds:.0f} / {load_seconds:.0f} / {settle_seconds:.0f} / "
            f"{stack_seconds + log.now():.0f}",
        }
        return figures, run
    finally:
        stack.stop()


def parse_args(argv: list[str] | None = None) -> ChaosConfig:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m starter.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=defaults.orders)
    parser.add_argument(
        "--order-rate", type=float, default=defaults.order_rate, help="orders placed per second"
    )
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--receiver-kills", type=int, default=defaults.receiver_kills)
    parser.add_argument("--temporal-kills", type=int, default=defaults.temporal_kills)
    parser.add_argument("--master-changes", type=int, default=defaults.master_changes)
    parser.add_argument("--m3-step-seconds", type=float, default=defaults.m3_step_seconds)
    parser.add_argument(
        "--m3-rate-limit", type=float, default=defaults.m3_rate_limit, help="M3 calls/s before 429"
    )
    parser.add_argument("--settle-timeout", type=float, default=defaults.settle_timeout)
    parser.add_argument(
        "--var", type=Path, default=defaults.var, help="wiped at start; report.json goes here"
    )
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    return ChaosConfig(**{name.replace("-", "_"): value for name, value in vars(args).items()})


async def _main(config: ChaosConfig) -> int:
    console = Console(width=None if sys.stdout.isatty() else 150)
    current = asyncio.current_task()
    if current is not None:

        def stop() -> None:
            console.print("[yellow]SIGTERM: stopping the stack[/]")
            current.cancel()

        # SIGTERM (a test's cleanup, `timeout`) stops the stack as cleanly as Ctrl-C does.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
    figures, run = await run_chaos(config, console)
    (config.var / "report.json").write_text(to_json(figures, run))
    print_report(console, figures, run)
    verdict = "[bold green]PASS[/]" if figures.ok else "[bold red]FAIL[/]"
    console.print(f"{verdict}  report: {config.var / 'report.json'}, logs: {config.var / 'logs'}/")
    return 0 if figures.ok else 1


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    # The clients' retry warnings are the weather working; only errors are news here.
    configure_logging("ERROR")
    sys.exit(asyncio.run(_main(config)))


if __name__ == "__main__":
    main()

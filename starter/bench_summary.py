"""The summary table at the top of ``docs/benchmarks.md``: each headline figure of ``make bench``
beside the matching engine ceiling and the target of issue 10, met or missed by how much.

Pure functions of the bench's result dict (``var/bench.json``), so they are unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    value: float
    higher_is_better: bool = True

    def __str__(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.value:g}"


@dataclass(frozen=True)
class Row:
    figure: str
    measured: float | None
    unit: str = ""
    ceiling: str = "—"
    target: Target | None = None

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "—"
        return verdict(self.measured, self.target, self.unit)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def verdict(measured: float | None, target: Target, unit: str = "") -> str:
    """Met (with the margin), missed by how much, or not measured: e.g. "met (+25 %)",
    "missed by 9.5 orders/s (63 % short)"."""
    if measured is None:
        return "not measured"
    unit = f" {unit}" if unit else ""
    if target.higher_is_better:
        if measured >= target.value:
            margin = f" (+{(measured / target.value - 1) * 100:.0f} %)" if target.value else ""
            return f"met{margin}"
        short = f" ({(1 - measured / target.value) * 100:.0f} % short)" if target.value else ""
        return f"missed by {target.value - measured:.3g}{unit}{short}"
    if measured <= target.value:
        return "met"
    over = f" ({(measured / target.value - 1) * 100:.0f} % over)" if target.value else ""
    return f"missed by {measured - target.value:.3g}{unit}{over}"


def of_ceiling(measured: float | None, ceiling: float | None) -> str:
    """A throughput as a share of the ceiling's: "0.33 of 16.4/s"."""
    share = ratio(measured, ceiling)
    return "—" if share is None else f"{share:g} of {ceiling:g}/s"


def times_ceiling(measured: float | None, ceiling: float | None, unit: str) -> str:
    """A latency as a multiple of the ceiling's: "3.1x (ceiling 0.4 s)"."""
    multiple = ratio(measured, ceiling)
    return "—" if multiple is None else f"{multiple:g}x (ceiling {ceiling:g} {unit})"


def _get(mapping: dict[str, Any] | None, *path: str) -> Any:
    value: Any = mapping
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def summary_rows(result: dict[str, Any]) -> list[Row]:
    ceiling = result.get("ceiling", {})
    regular, local = ceiling.get("regular"), ceiling.get("local")
    starts = max((_get(c, "starts_per_second") or 0.0 for c in (regular, local)), default=0.0) or None
    start_p99 = _get(regular, "start_call_ms", "p99")
    intake_32 = next((run for run in result.get("intake", []) if run["senders"] == 32), None)
    to_m3 = result.get("to_m3", {})
    product, slow = to_m3.get("latency_0"), to_m3.get("latency_50")
    naive, two_workers, quota = to_m3.get("naive"), to_m3.get("two_workers"), result.get("quota")
    lifecycle = result.get("order_to_cash")
    product_rate = _get(product, "orders_per_second")
    local_rate = _get(local, "workflows_per_second")
    rows = [
        Row(
            "Intake, 32 senders: durable acks/s",
            _get(intake_32, "acks_per_second"),
            "acks/s",
            f"{of_ceiling(_get(intake_32, 'acks_per_second'), starts)} (client starts)",
            Target(400),
        ),
        Row(
            "Intake, 32 senders: ack latency p99",
            _get(intake_32, "ack_latency_ms", "p99"),
            "ms",
            times_ceiling(_get(intake_32, "ack_latency_ms", "p99"), start_p99, "ms"),
            Target(100, higher_is_better=False),
        ),
        Row(
            "Webhook → confirmed M3 order, latency 0: orders/s",
            product_rate,
            "orders/s",
            f"{of_ceiling(product_rate, local_rate)} (local activities)",
            Target(15),
        ),
        Row(
            "… as a share of the no-op ceiling (local activities)",
            ratio(product_rate, local_rate),
            "",
            "—",
            Target(1.0),
        ),
        Row(
            "… latency p99",
            _get(product, "webhook_to_m3_order_seconds", "p99"),
            "s",
            times_ceiling(
                _get(product, "webhook_to_m3_order_seconds", "p99"),
                _get(local, "latency_seconds", "p99"),
                "s",
            ),
        ),
        Row(
            "… product / naive design (every call a regular activity)",
            ratio(product_rate, _get(naive, "orders_per_second")),
            "x",
            "—",
            Target(2.0),
        ),
        Row(
            "Webhook → confirmed M3 order, M3 latency 50 ms: orders/s",
            _get(slow, "orders_per_second"),
            "orders/s",
            of_ceiling(_get(slow, "orders_per_second"), local_rate),
        ),
        Row(
            "Quota: orders/s as a share of quota ÷ M3 requests per order",
            _get(quota, "share_of_quota_bound"),
            "",
            of_ceiling(_get(quota, "orders_per_second"), local_rate),
            Target(0.9),
        ),
        Row(
            "Quota: failed or parked orders",
            None if quota is None else quota["parked"] + quota["not_confirmed"],
            "orders",
            "—",
            Target(0, higher_is_better=False),
        ),
        Row(
            "Lifecycle to Paid: orders/s (M3 sends no master-data BODs meanwhile)",
            _get(lifecycle, "orders_per_second_to_paid"),
            "orders/s",
            "— (no matching ceiling)",
            Target(6),
        ),
        Row(
            "Lifecycle: history events per Paid order (p50)",
            _get(lifecycle, "history_events_per_paid_order", "p50"),
            "events",
            "—",
            Target(60, higher_is_better=False),
        ),
        Row(
            "Scale-out: 2 worker processes / 1, to M3",
            ratio(_get(two_workers, "orders_per_second"), product_rate),
            "x",
            of_ceiling(_get(two_workers, "orders_per_second"), local_rate),
            Target(1.0),
        ),
    ]
    return rows


def summary_markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "| figure | measured | vs the engine ceiling (same run) | target (issue 10) | met / missed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in summary_rows(result):
        measured = "not measured" if row.measured is None else f"{row.measured:g} {row.unit}".rstrip()
        target = "—" if row.target is None else f"{row.target} {row.unit}".rstrip()
        lines.append(f"| {row.figure} | {measured} | {row.ceiling} | {target} | {row.verdict} |")
    return lines

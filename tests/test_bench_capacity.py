"""The bench's capacity model: CPU per order from /proc, and the sizing drawn from it."""

from __future__ import annotations

import os

from starter.bench_capacity import capacity_markdown, cpu_per_order, cpu_seconds, cpu_snapshot


def test_cpu_time_of_a_process_is_read_from_proc() -> None:
    spent = cpu_seconds(os.getpid())
    assert spent is not None and spent > 0
    sum(range(3_000_000))  # burn some CPU
    assert (cpu_seconds(os.getpid()) or 0) > spent
    assert cpu_snapshot({"gone": 2**22 + 7}) == {}  # above any pid_max: no such process


def test_cpu_per_order_by_process() -> None:
    before = {"worker": 10.0, "temporal": 5.0}
    after = {"worker": 12.0, "temporal": 5.5, "receiver": 1.0}
    assert cpu_per_order(before, after, 100) == {"worker": 20.0, "temporal": 5.0}
    assert cpu_per_order(before, after, 0) == {}


def test_the_sizing_follows_from_the_measured_costs() -> None:
    model = {
        "cpu_ms_per_order": {"worker": 35.0, "worker-2": 35.0, "temporal": 40.0},
        "history": {"events": 50, "workflow_tasks": 9, "signals": 7, "shard_updates": 17},
    }
    text = "\n".join(capacity_markdown(model))
    # 70 ms of worker CPU per order: 10 orders/s per process at 70 % of a core; 13.9 orders/s -> 2.
    assert "about 10.0 orders/s" in text and "**2 worker processes**" in text
    assert "236 updates/s" in text and "694 history events/s" in text
    assert capacity_markdown({}) == ["## Capacity model", "", "Not measured in this run.", ""]


def test_the_model_is_sized_on_the_run_with_master_data_bods_when_there_is_one() -> None:
    history = {"events": 48.0, "shard_updates": 13.0}
    orders_only = {"worker": 200.0, "temporal": 100.0}
    with_bods = {"worker": 350.0, "temporal": 200.0}
    text = "\n".join(
        capacity_markdown(
            {
                "cpu_ms_per_order": orders_only,
                "cpu_ms_per_order_with_master_data_bods": with_bods,
                "history": history,
            }
        )
    )
    assert "| worker | 200 ms | 350 ms |" in text
    assert "| all | 300 ms | 550 ms |" in text
    assert "a worker process used 350 ms of CPU per Paid order" in text
    only = "\n".join(capacity_markdown({"cpu_ms_per_order": orders_only, "history": history}))
    assert "| worker | 200 ms | not measured |" in only
    assert "a worker process used 200 ms of CPU per Paid order" in only

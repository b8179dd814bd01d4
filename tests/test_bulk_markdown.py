"""The bulk bench's Markdown: one row per run, each judged against the issue's target."""

from __future__ import annotations

from typing import Any

from starter.bench_bulk import bulk_markdown


def run(seconds: float, examined: int, rate: float, created: int = 0, left: int = 0) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "examined": examined,
        "created_in_bng": created,
        "items_per_second": rate,
        "counts": {"in_sync": examined - created - left},
        "worker_rss_start_mb": 100.0,
        "worker_rss_end_mb": 101.0,
        "worker_rss_peak_mb": 120.5,
        "worker_vmhwm_mb": 121.0,
        "vmhwm_since": "run start",
    }


def test_each_run_is_a_row_judged_against_the_target() -> None:
    result = {
        "items": 10_000,
        "page_size": 500,
        "initial_load": run(4.0, 10_000, 2_500.0, created=10_000),
        "balances_load": run(10.0, 10_000, 1_000.0, created=10_000),
        "steady_state": run(2.0, 10_000, 5_000.0, left=3),
        "balances_steady_state": run(4.0, 10_000, 2_500.0),
    }

    lines = bulk_markdown(result)

    rows = [line for line in lines if line.startswith("| initial") or line.startswith("| steady")]
    assert len(rows) == 4
    assert "| 10,000 | 10,000 | 4.0 | 2,500 | 0 | ≥ 2,000 (met) | 100.0 / 101.0 / 120.5 | 0 |" in rows[0]
    assert "(missed by 1,000/s)" in rows[1]
    assert rows[2].endswith("| 3 |")

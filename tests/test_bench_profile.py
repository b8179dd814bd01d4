"""The bench's profile summary: samples charged to the package or our file they ended in."""

from __future__ import annotations

from pathlib import Path

from starter.bench_profile import summary, where


def test_a_frame_belongs_to_our_file_or_to_a_package() -> None:
    assert where("run (workflows/order_to_cash.py:120)") == "workflows/order_to_cash.py"
    assert where("_send (httpx/_client.py:1010)") == "httpx"
    assert where("encode (json/encoder.py:200)") == "json"
    assert where("x (/venv/lib/python3.11/site-packages/pydantic/main.py:3)") == "pydantic"
    assert where("<module> (worker.py:9)") == "worker.py"


def test_samples_are_shared_out_by_their_innermost_frame(tmp_path: Path) -> None:
    collapsed = tmp_path / "worker.txt"
    collapsed.write_text(
        "main (worker.py:1);run (workflows/order_to_cash.py:5);validate (pydantic/main.py:9) 30\n"
        "main (worker.py:1);poll (temporalio/worker/_workflow.py:3) 60\n"
        "main (worker.py:1);run (workflows/order_to_cash.py:7) 10\n"
    )
    assert summary(collapsed) == [
        ("temporalio", 60.0),
        ("pydantic", 30.0),
        ("workflows/order_to_cash.py", 10.0),
    ]
    assert summary(tmp_path / "absent.txt") == []

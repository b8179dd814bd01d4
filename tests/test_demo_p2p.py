"""The demo's procure-to-pay segment (starter/demo_p2p.py) against the test stack, end to end.

The segment plays BNG's buyer, warehouse and AP clerk through BNG's API and the operator once; the
test checks that every PO closes, every invoice posts (one after the accepted price difference)
and the journal posts, in M3's numbers as BNG sees them.
"""

from __future__ import annotations

import io

from rich.console import Console

from clients.bng.client import BngClient
from starter.demo_p2p import INVOICE, JOURNAL, PO, print_p2p_summary, run_p2p
from tests.conftest import Stack
from tests.documents import wait_for_bng
from workflows.documents import DocumentStage


async def test_the_p2p_segment_closes_the_pos_and_posts_the_invoices_and_the_journal(stack: Stack) -> None:
    output = io.StringIO()
    console = Console(file=output, width=160)
    settings = stack.settings
    async with BngClient(
        settings.bng_base_url,
        client_id=settings.bng_client_id,
        client_secret=settings.bng_client_secret.get_secret_value(),
    ) as bng:
        outcome = await run_p2p(stack.client, bng, 2, timeout=50, console=console)
    print_p2p_summary(console, outcome)
    text = output.getvalue()

    assert outcome.complete, text
    pos, invoices, [journal] = outcome.of(PO), outcome.of(INVOICE), outcome.of(JOURNAL)
    assert len(pos) == 2 and len(invoices) == 2
    for doc in pos:
        assert doc.view is not None and doc.view.stage == DocumentStage.CLOSED and doc.view.m3_number
        wanted = {"Status": "Closed", "ExternalID": doc.view.m3_number}
        await wait_for_bng(stack, f"/api/v1/purchase-orders/{doc.bng_id}", wanted)
    for doc in invoices:
        assert doc.view is not None and doc.view.stage == DocumentStage.POSTED and doc.view.m3_number
        wanted = {"Status": "Posted", "ExternalID": doc.view.m3_number}
        await wait_for_bng(stack, f"/api/v1/supplier-invoices/{doc.bng_id}", wanted)
    assert journal.view is not None and journal.view.stage == DocumentStage.POSTED
    await wait_for_bng(stack, f"/api/v1/journals/{journal.bng_id}", {"Status": "Posted"})

    # Exactly one invoice parked for the three-way match and was posted after the operator accepted.
    [accepted] = outcome.accepted
    parked = [
        doc for doc in invoices if doc.view and any(e.step == "NeedsAttention" for e in doc.view.timeline)
    ]
    assert [doc.bng_id for doc in parked] == [accepted]
    [view] = [doc.view for doc in parked]
    assert view is not None
    steps = [entry.step for entry in view.timeline]
    assert steps.index("NeedsAttention") < steps.index("Matched") < steps.index("Posted")
    assert any(e.step == "Matched" and "accepted by operator" in e.detail for e in view.timeline)
    assert "accept_price_difference" in text
    assert "m3bng po show" in text and "m3bng invoices show" in text
    assert "DocumentType%3D%22purchase_order%22" in text

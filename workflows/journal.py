"""A BNG journal posted to the M3 general ledger: one durable workflow per journal.

1. check the journal: a debit or a credit per line, balanced in every currency, an open period,
   every account and cost centre mapped (the declared journal map); a journal that does not
   check out waits in NeedsAttention for a corrected journal or a cancel (BNG: Rejected);
2. post it to M3 as one GLS840MI batch (head, lines, control, update): one voucher;
3. tell BNG: Posted, with the batch key and the voucher.

Whatever retrying cannot fix (M3 refusing a line in CtrlBatch, an outage longer than the retry
window) parks the journal with M3's own words, and BNG sees it OnHold with the reason.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from activities.bng_journals import BngJournalActivities, PushJournalStatusInput
    from activities.journal_check import JournalCheck
    from activities.m3_journals import (
        CheckJournalInput,
        M3JournalActivities,
        PostedJournal,
        PostJournalInput,
    )
    from clients.bng.models import Journal, JournalStatus
    from workflows.attention import attention_for
    from workflows.document_workflow import Cancelled, DocumentWorkflow
    from workflows.documents import DocumentInput, DocumentResult, DocumentStage, DocumentType
    from workflows.models import Attention, FieldIssue, FixPayload, Resume

# How many of a document's problems the one-line summary names (all are in the issues).
SUMMARY_ISSUES = 3
# CtrlBatch names each failing line: "...: line 2: <text>; line 3: <text>".
_LINE_MESSAGE = re.compile(r"line (\d+): ")


class GlPostingWorkflow(DocumentWorkflow):
    """What journals and refunds share: check against the declared maps, post one GLS840MI batch."""

    kind: ClassVar[Literal["journal", "refund"]]
    id_field: ClassVar[str]
    # What an operator's corrected document must be.
    payload_model: ClassVar[type[BaseModel]]

    def _begin_posting(self, data: DocumentInput) -> None:
        self._begin(data)
        # A corrected document whose batch M3 already holds gets a batch of its own (a new KEY1).
        self._revision = 0
        self._batch_sent = False
        self._keys: list[str] = []
        self._voucher: PostedJournal | None = None

    def _tag(self, *extra: Any) -> None:
        workflow.upsert_search_attributes(
            [
                sa.DOCUMENT_TYPE.value_set(self.document_type.value),
                sa.DOCUMENT_ID.value_set(self._view.document_id),
                *extra,
            ]
        )

    async def _checked(self) -> JournalCheck:
        """The document checked and made into a GLS840MI batch, after as many corrections as it takes."""
        while True:
            check = await self._must(
                "check",
                lambda data: workflow.execute_activity_method(
                    M3JournalActivities.check_gl_document,
                    data,
                    **self._call,
                    summary=summaries.check_gl_document(data),
                ),
                CheckJournalInput(kind=self.kind, payload=self._payload, revision=self._revision),
            )
            if check.ok:
                return check
            messages = [issue.message for issue in check.issues]
            more = f" (and {len(messages) - SUMMARY_ISSUES} more)" if len(messages) > SUMMARY_ISSUES else ""
            decision = await self._park(
                Attention(
                    kind="invalid_payload",
                    summary=f"The BNG {self.kind} does not check out: "
                    + "; ".join(messages[:SUMMARY_ISSUES])
                    + more,
                    issues=check.issues,
                    step="check",
                    data=self._payload,
                    # Retry: after the maps were corrected (an account mapped, a period opened).
                    actions=["retry", "fix", "cancel"],
                ),
                fix_model=self.payload_model,
            )
            if isinstance(decision, FixPayload):
                self._corrected(decision)

    async def _post(self, check: JournalCheck) -> PostedJournal | None:
        """Post the batch to M3; None when an operator corrected the document instead (check again)."""
        key = check.key
        if key not in self._keys:
            self._keys.append(key)
        self._set_m3_number(key)
        data = PostJournalInput(
            bng_id=self._view.document_id,
            kind=self.kind,
            key1=key,
            interface=check.head["INTN"],
            description=check.head.get("DESC", ""),
            division=check.head.get("DIVI") or None,
            lines=check.lines,
            earlier_keys=[k for k in self._keys if k != key],
        )
        while True:
            self._batch_sent = True
            try:
                return await workflow.execute_activity_method(
                    M3JournalActivities.post_gl_journal,
                    data,
                    **self._call,
                    summary=summaries.post_gl_journal(data),
                )
            except ActivityError as error:
                attention = _with_line_issues(attention_for(error, "post to M3"))
            attention.data = self._payload
            # Retry: M3 was corrected (an account opened) or is back; fix: a corrected document.
            attention.actions = ["retry", "fix", "cancel"]
            decision = await self._park(attention, fix_model=self.payload_model)
            if isinstance(decision, FixPayload):
                self._corrected(decision)
                return None
            assert isinstance(decision, Resume)

    async def _checked_and_posted(self) -> PostedJournal:
        while True:
            check = await self._checked()
            self._on_checked(check)
            posted = await self._post(check)
            if posted is not None:
                self._voucher = posted
                self._log("M3 voucher", _posted_detail(posted))
                return posted

    def _on_checked(self, check: JournalCheck) -> None:
        """Hook: the document checked out (journals show it as a stage)."""

    def _corrected(self, fix: FixPayload) -> None:
        # The document stays the same document, whatever the correction says its id is.
        self._payload = {**self._payload, **fix.payload, self.id_field: self._view.document_id}
        if self._batch_sent:
            self._revision += 1
            self._batch_sent = False
        self._log("Corrected", fix.reason or f"operator sent a corrected {self.kind}", "info")


@workflow.defn
class JournalWorkflow(GlPostingWorkflow):
    document_type = DocumentType.JOURNAL
    kind = "journal"
    id_field = "JournalID"
    payload_model = Journal

    @workflow.init
    def __init__(self, data: DocumentInput) -> None:
        self._begin_posting(data)

    @workflow.run
    async def run(self, data: DocumentInput) -> DocumentResult:
        self._tag()
        lines = self._payload.get("Lines")
        count = len(lines) if isinstance(lines, list) else 0
        what = f"'{self._payload.get('Description', '')}', {count} line(s)"
        self._log("Received", f"journal.created {data.webhook_id or ''}: {what}".replace(" :", ":"), "info")
        try:
            posted = await self._checked_and_posted()
            external_id = f"{posted.key1} {posted.label}"
            await self._push(JournalStatus.POSTED, external_id, reason="")
            self._set_stage(
                DocumentStage.POSTED, f"voucher {posted.label} in M3; BNG: Posted ({external_id})"
            )
        except Cancelled as cancelled:
            if self._voucher is None:
                await self._notify(
                    self._push_status,
                    PushJournalStatusInput(
                        bng_id=self._view.document_id, status=JournalStatus.REJECTED, reason=str(cancelled)
                    ),
                    "Rejected",
                )
            else:
                self._log("M3 voucher kept", f"voucher {self._voucher.label} stays posted in M3", "info")
        return self._result()

    def _on_checked(self, check: JournalCheck) -> None:
        totals = ", ".join(f"{t.currency} {t.debit:,.2f}" for t in check.totals)
        self._set_stage(
            DocumentStage.VALIDATED,
            f"balanced ({totals} debit = credit), open period, accounts mapped; "
            f"GLS840MI batch {check.key} with {len(check.lines)} line(s)",
        )

    async def _tell_bng_parked(self, attention: Attention) -> None:
        if self._voucher is not None:
            return  # posted in M3: BNG's journal is not on hold, only m3bng's telling of it
        await self._notify(
            self._push_status,
            PushJournalStatusInput(
                bng_id=self._view.document_id, status=JournalStatus.ON_HOLD, reason=attention.summary
            ),
            "OnHold",
        )

    async def _push_status(self, data: PushJournalStatusInput) -> bool:
        return await workflow.execute_activity_method(
            BngJournalActivities.push_journal_status_to_bng,
            data,
            **self._notice,
            summary=summaries.push_journal_status_to_bng(data),
        )

    async def _push(self, status: JournalStatus, external_id: str | None, reason: str | None) -> None:
        pushed = await self._attempt(
            f"status {status.value} to BNG",
            lambda data: workflow.execute_activity_method(
                BngJournalActivities.push_journal_status_to_bng,
                data,
                **self._call,
                summary=summaries.push_journal_status_to_bng(data),
            ),
            PushJournalStatusInput(
                bng_id=self._view.document_id, status=status, external_id=external_id, reason=reason
            ),
            actions=["retry", "skip", "cancel"],
        )
        if pushed:
            self._log("Status to BNG", status.value, "info")


def _posted_detail(posted: PostedJournal) -> str:
    how = "found posted by an earlier attempt" if posted.found_posted else "GLS840MI/UpdBatch"
    return f"batch {posted.key1} posted as voucher {posted.label} ({how})"


def _with_line_issues(attention: Attention) -> Attention:
    """M3's CtrlBatch message names every failing line: one issue per problem, M3's text kept."""
    if attention.m3_transaction != "CtrlBatch" or not attention.issues:
        return attention
    message = attention.issues[0].message
    if not _LINE_MESSAGE.search(message):
        return attention
    # "Key value J1 has errors: line 2: ...; currency EUR does not balance, ..."
    problems = message.split(": ", 1)[1] if _LINE_MESSAGE.match(message) is None else message
    issues: list[FieldIssue] = []
    for problem in (part.strip() for part in problems.split("; ")):
        if not problem:
            continue
        numbered = _LINE_MESSAGE.match(problem)
        line = int(numbered.group(1)) if numbered else None
        issues.append(FieldIssue(field="PARM" if numbered else "KEY1", message=problem, line=line))
    attention.issues = issues
    return attention

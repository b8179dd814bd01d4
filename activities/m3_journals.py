"""Post a BNG journal (or a refund's GL entry) to M3 through the generic GL interface GLS840MI.

One GLS840MI batch per document, keyed by KEY1 (``activities.journal_check.batch_key``):
AddBatchHead, one AddBatchLine per line (the PARM laid out by the declared GLS850 interface),
CtrlBatch (M3 validates every line), UpdBatch (M3 posts the batch as one voucher; the interface
rows are gone afterwards). UpdBatch answers with nothing but CONO, so the voucher is found in
GLS200MI/LstVouchersByDt by its voucher text, which starts with KEY1.

Exactly once (``activities.exactly_once``):
- Look first: a voucher whose text starts with KEY1 (or an earlier revision's KEY1) means an
  earlier attempt posted the batch; nothing is written again.
- GLS840MI cannot read its interface batch back (no public Get/Lst of FGLINH/FGLINL). The batch's
  own unique keys are the look for the head and lines: M3 refuses a second head with our KEY1
  and a second line with our LINE ("record already exists", XRE0103). That refusal counts as an
  earlier attempt's work only if KEY1 is ours: m3bng links KEY1 to this one BNG document
  (storage.document_links) before its first write, and never gives it to another. A lost answer
  on any write is followed by a look for the voucher before anything is sent again.
- A CtrlBatch refusal is M3 telling what is wrong with the lines ("line 3: ..."): a business
  error, raised non-retryable with M3's text, so the document parks with it.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connections import Connections
from activities.errors import INVALID_RECORD, M3_ALREADY_EXISTS, classified_errors
from activities.exactly_once import write_once
from activities.heartbeat import auto_heartbeat
from activities.journal_check import (
    JOURNAL_PREFIX,
    REFUND_PREFIX,
    JournalCheck,
    check_journal,
    refund_journal,
)
from clients.m3 import M3Value
from clients.m3.errors import M3BusinessError
from mapping.fixed_width import FixedWidthError, load_gl_layout
from storage import document_links

GL_INTERFACE = "GLS840MI"
# The payment clearing journal (setting payment_gl = "gl_journal"): BNG account codes, mapped to
# M3 AIT1 by the gl_accounts lookup like any journal line.
PAYMENT_PREFIX = "P"
PAYMENT_DEBIT = "BANK"
PAYMENT_CREDIT = "CARD-CLEARING"
VOUCHERS = "GLS200MI"

DocumentKindName = Literal["journal", "refund"]


class CheckJournalInput(BaseModel):
    kind: DocumentKindName = "journal"
    # The BNG document as sent: a Journal, or a Refund (booked as a two-line journal).
    payload: dict[str, Any]
    # 0 for the first batch; a corrected document whose earlier batch is in M3 gets a new KEY1.
    revision: int = 0


class PostJournalInput(BaseModel):
    bng_id: str
    kind: DocumentKindName = "journal"
    key1: str
    interface: str
    description: str
    division: str | None = None
    # (LINE, PARM) as GLS840MI AddBatchLine takes them.
    lines: list[tuple[int, str]]
    # KEY1s of earlier revisions of this document: a voucher under one of them is the posting.
    earlier_keys: list[str] = []


class PaymentGlInput(BaseModel):
    payment_id: str
    order_id: str
    amount: Decimal
    currency: str
    payment_date: date


class PostedJournal(BaseModel):
    key1: str
    voucher: str
    year: int | None = None
    series: str | None = None
    accounting_date: date | None = None
    # True when an earlier attempt had posted the batch and this one only found its voucher.
    found_posted: bool = False

    @property
    def label(self) -> str:
        """The voucher as an accountant names it: year, series and number."""
        return "/".join(str(part) for part in (self.year, self.series, self.voucher) if part)


class PaymentGl(BaseModel):
    route: Literal["m3_ar_batch", "gl_journal"]
    posted: PostedJournal | None = None

    @property
    def detail(self) -> str:
        if self.posted is None:
            return "the GL posting is M3's: ARS040MI batch accounting"
        posted = self.posted
        return f"clearing journal {posted.key1} (BANK / CARD-CLEARING) posted as voucher {posted.label}"


def revision_id(document_id: str, revision: int) -> str:
    """The id the batch key is made from: a revision's key is never another document's key.

    ``~`` is outside the characters ``batch_key`` keeps as they are, so a revision's key is
    always the hashed form, which no plain document id produces.
    """
    return document_id if revision == 0 else f"{document_id}~{revision}"


class M3JournalActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    # ---------------------------------------------------------------- validation

    @activity.defn
    @auto_heartbeat
    async def check_gl_document(self, data: CheckJournalInput) -> JournalCheck:
        """Validate a journal or a refund against the declared maps and build its GLS840MI batch.

        An activity because the maps are read from disk (and an operator may correct them while
        a document waits): the workflow only sees the outcome.
        """
        if data.kind == "refund":
            journal = refund_journal(data.payload)
            prefix = REFUND_PREFIX
        else:
            journal = dict(data.payload)
            prefix = JOURNAL_PREFIX
        document_id = str(journal.get("JournalID") or "")
        if document_id and data.revision:
            journal["JournalID"] = revision_id(document_id, data.revision)
        return check_journal(journal, key_prefix=prefix, division=self._c.settings.m3_divi or None)

    # ---------------------------------------------------------------- posting

    @activity.defn
    @auto_heartbeat
    async def post_gl_journal(self, data: PostJournalInput) -> PostedJournal:
        return await self._post(data)

    @activity.defn
    @auto_heartbeat
    async def post_payment_gl(self, data: PaymentGlInput) -> PaymentGl:
        """The clearing journal of a BNG payment (setting ``payment_gl`` = ``gl_journal``): debit BANK,
        credit CARD-CLEARING through GLS840MI, exactly once like any journal (KEY1 ``batch_key("P",
        PaymentID)``). With ``m3_ar_batch`` the workflow does not call this: M3 books the payment
        batch itself (ARS040MI batch accounting).
        """
        journal = {
            "JournalID": data.payment_id,
            "JournalDate": data.payment_date.isoformat(),
            "Description": f"Payment {data.payment_id} order {data.order_id}",
            "Lines": [
                {
                    "LineNumber": 1,
                    "Account": PAYMENT_DEBIT,
                    "Debit": str(data.amount),
                    "Currency": data.currency,
                },
                {
                    "LineNumber": 2,
                    "Account": PAYMENT_CREDIT,
                    "Credit": str(data.amount),
                    "Currency": data.currency,
                },
            ],
        }
        check = check_journal(journal, key_prefix=PAYMENT_PREFIX, division=self._c.settings.m3_divi or None)
        if not check.ok:
            problems = "; ".join(issue.message for issue in check.issues)
            raise ApplicationError(
                f"the clearing journal of payment {data.payment_id} does not check out: {problems}",
                type=INVALID_RECORD,
                non_retryable=True,
            )
        posted = await self._post(
            PostJournalInput(
                # Linked as a journal of m3bng's own making, apart from BNG's journal ids.
                bng_id=f"payment:{data.payment_id}",
                kind="journal",
                key1=check.key,
                interface=check.head["INTN"],
                description=check.head.get("DESC", ""),
                division=check.head.get("DIVI") or None,
                lines=check.lines,
            )
        )
        return PaymentGl(route="gl_journal", posted=posted)

    async def _post(self, data: PostJournalInput) -> PostedJournal:
        key1 = data.key1
        dates = _accounting_dates(data.lines)
        divi = data.division or self._c.settings.m3_divi

        async def posted() -> PostedJournal | None:
            return await self._find_voucher([key1, *data.earlier_keys], dates, divi)

        with classified_errors():
            found = await posted()
            if found is not None:
                await asyncio.to_thread(self._link, data, found)
                return found.model_copy(update={"found_posted": True})
            # KEY1 belongs to this document before M3 sees it: what makes M3's "already exists" ours.
            await asyncio.to_thread(self._link, data, None)

            head: dict[str, M3Value] = {"KEY1": key1, "INTN": data.interface, "DESC": data.description}
            if divi:
                head["DIVI"] = divi
            added = await write_once(
                f"GLS840MI/AddBatchHead KEY1 {key1}",
                find=posted,
                write=functools.partial(self._insert, "AddBatchHead", head, data),
                look_first=False,
            )
            if isinstance(added, PostedJournal):  # the look after a lost answer found it posted
                await asyncio.to_thread(self._link, data, added)
                return added.model_copy(update={"found_posted": True})
            for line, parm in data.lines:
                record: dict[str, M3Value] = {"KEY1": key1, "LINE": line, "PARM": parm}
                if divi:
                    record["DIVI"] = divi
                added = await write_once(
                    f"GLS840MI/AddBatchLine KEY1 {key1} LINE {line}",
                    find=posted,
                    write=functools.partial(self._insert, "AddBatchLine", record, data),
                    look_first=False,
                )
                if isinstance(added, PostedJournal):
                    await asyncio.to_thread(self._link, data, added)
                    return added.model_copy(update={"found_posted": True})
            batch: dict[str, M3Value] = {"KEY1": key1, **({"DIVI": divi} if divi else {})}
            # Validation only; M3 changes nothing the document depends on, so it may run again.
            await self._c.m3.execute(GL_INTERFACE, "CtrlBatch", batch)

            async def update() -> PostedJournal:
                await self._c.m3.execute(GL_INTERFACE, "UpdBatch", batch, write=True)
                voucher = await posted()
                if voucher is None:
                    raise M3BusinessError(
                        program=GL_INTERFACE,
                        transaction="UpdBatch",
                        field="KEY1",
                        message=f"Batch {key1} was posted, but GLS200MI shows no voucher with text {key1}",
                    )
                return voucher

            # Any refusal may mean an earlier attempt posted it (the batch is gone): look for the voucher.
            voucher = await write_once(
                f"GLS840MI/UpdBatch KEY1 {key1}", find=posted, write=update, done_codes=None, look_first=False
            )
            await asyncio.to_thread(self._link, data, voucher)
        return voucher

    async def _insert(self, transaction: str, record: dict[str, M3Value], data: PostJournalInput) -> bool:
        """Add a head or a line of our batch; True if added now, False if an earlier attempt had."""
        try:
            await self._c.m3.execute(GL_INTERFACE, transaction, record, write=True)
        except M3BusinessError as error:
            if error.code != M3_ALREADY_EXISTS:
                raise
            if not await asyncio.to_thread(self._key_is_ours, data):
                raise M3BusinessError(
                    program=error.program,
                    transaction=error.transaction,
                    code=error.code,
                    field=error.field,
                    message=f"GLS840 batch {data.key1} exists in M3 but is not m3bng's batch for "
                    f"{data.kind} {data.bng_id}: {error.message}",
                ) from error
            return False
        return True

    async def _find_voucher(
        self, keys: list[str], dates: list[date], divi: str | None
    ) -> PostedJournal | None:
        """The voucher whose text starts with one of ``keys`` (KEY1 then a blank), on the batch's dates."""
        if not dates:
            return None
        query: dict[str, M3Value] = {"FRDT": min(dates), "TODT": max(dates)}
        if divi:
            query["DIVI"] = divi
        rows = await self._c.m3.execute(VOUCHERS, "LstVouchersByDt", query, maxrecs=0)
        for key in keys:
            for row in rows:
                text = row.get("VTXT", "")
                if text == key or text.startswith(key + " "):
                    return PostedJournal(
                        key1=key,
                        voucher=row.get("VONO", "").lstrip("0") or row.get("VONO", ""),
                        year=int(row["YEA4"]) if row.get("YEA4", "").strip().isdigit() else None,
                        series=row.get("VSER") or None,
                        accounting_date=_m3_date(row.get("ACDT", "")),
                    )
        return None

    # ---------------------------------------------------------------- the document link

    def _key_is_ours(self, data: PostJournalInput) -> bool:
        with self._c.sessions() as session:
            row = document_links.find_by_bng(session, data.kind, data.bng_id)
            return row is not None and row.m3_key == data.key1

    def _link(self, data: PostJournalInput, voucher: PostedJournal | None) -> None:
        """Link KEY1 (and the voucher, once posted) to the BNG document; a KEY1 that is another
        document's is refused as a business error (it would make M3's "already exists" lie)."""
        workflow_id = activity.info().workflow_id or ""
        key1 = voucher.key1 if voucher else data.key1
        with self._c.sessions() as session:
            try:
                document_links.link(
                    session,
                    data.kind,
                    data.bng_id,
                    self._c.settings.m3_cono,
                    key1,
                    workflow_id,
                    m3_extra=voucher.label if voucher else None,
                )
            except document_links.XrefConflictError as error:
                raise M3BusinessError(
                    program=GL_INTERFACE, transaction="AddBatchHead", field="KEY1", message=str(error)
                ) from error
            session.commit()


def _accounting_dates(lines: list[tuple[int, str]]) -> list[date]:
    layout = load_gl_layout()
    dates: set[date] = set()
    for _, parm in lines:
        try:
            value = layout.parse(parm).get("ACDT")
        except FixedWidthError:
            continue
        if isinstance(value, date):
            dates.add(value)
    return sorted(dates)


def _m3_date(text: str) -> date | None:
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    return None

"""Every message the sandbox answers with, in one place.

M3 identifies a message by a 7-character id (three letters, four digits) and names the input field
it refers to. Only XAU0008 ("Not authorized for company") and XRE0103 ("Record already exists") are
quoted by the public reference (m3-api.md); every other id here is the sandbox's own choice, made in
M3's style. Clients must branch on the field and the transaction outcome, never on these ids.
"""

from __future__ import annotations

from dataclasses import dataclass

# Error types (v1 `@type`, v2 `errorType`). ServerReturnedNOK is the usual business error; the
# other three are the protocol-level types listed in m3-api.md §1.4.
SERVER_RETURNED_NOK = "ServerReturnedNOK"
TRANSACTION_NOT_FOUND = "TransactionNotFound"
MANDATORY_FIELD_MISSING = "MandatoryInputFieldNotFound"
INPUT_FIELD_TOO_LONG = "InputFieldTooLong"


@dataclass
class MINok(Exception):
    """Raised by a transaction to answer NOK; the protocol layer renders it per API version."""

    code: str
    message: str
    field: str = ""
    type: str = SERVER_RETURNED_NOK

    def __str__(self) -> str:
        return f"{self.code} {self.field}: {self.message}"


# Quoted by the reference.
def not_authorized_company(cono: str) -> MINok:
    return MINok("XAU0008", f"Not authorized for company {cono}", "CONO")


def record_already_exists(field: str) -> MINok:
    return MINok("XRE0103", "Record already exists", field)


# Protocol level.
def program_not_found(program: str) -> MINok:
    return MINok("XPG0001", f"Program {program} does not exist", "", TRANSACTION_NOT_FOUND)


def transaction_not_found(program: str, transaction: str) -> MINok:
    return MINok(
        "XTR0001", f"Transaction {transaction} does not exist in program {program}", "", TRANSACTION_NOT_FOUND
    )


def mandatory_field(field: str, description: str) -> MINok:
    return MINok("XMA0001", f"{description} ({field}) must be entered", field, MANDATORY_FIELD_MISSING)


def field_too_long(field: str, length: int) -> MINok:
    text = f"Input value for {field} is longer than {length} positions"
    return MINok("XLE0001", text, field, INPUT_FIELD_TOO_LONG)


def not_numeric(field: str, value: str) -> MINok:
    return MINok("XNU0001", f"Value {value} in field {field} is not numeric", field)


def invalid_date(field: str, value: str) -> MINok:
    return MINok("XDT0001", f"Date {value} in field {field} is invalid, use YYYYMMDD", field)


def not_authorized_division(divi: str) -> MINok:
    return MINok("XAU0009", f"Not authorized for division {divi}", "DIVI")


def list_interrupted(rows: int) -> MINok:
    return MINok("XLS0001", f"List processing interrupted after {rows} records, try again", "")


# Customers.
def customer_not_found(cuno: str) -> MINok:
    return MINok("WCU0203", f"Customer number {cuno} does not exist", "CUNO")


def customer_blocked(cuno: str) -> MINok:
    return MINok("WCU0210", f"Customer number {cuno} is blocked", "CUNO")


def customer_template_not_found(cutm: str) -> MINok:
    return MINok("WCU0204", f"Customer template {cutm} does not exist", "CUTM")


def invalid_status(field: str, value: str) -> MINok:
    return MINok("WST0101", f"Status {value} is invalid", field)


# Items and warehouses.
def item_not_found(itno: str) -> MINok:
    return MINok("WIT0203", f"Item number {itno} does not exist", "ITNO")


def item_blocked(itno: str, stat: str) -> MINok:
    return MINok("WIT0210", f"Item number {itno} has status {stat} and cannot be ordered", "ITNO")


def warehouse_not_found(whlo: str) -> MINok:
    return MINok("WWH0203", f"Warehouse {whlo} does not exist", "WHLO")


def balance_not_found(itno: str, whlo: str) -> MINok:
    return MINok("WBA0203", f"Item number {itno} does not exist in warehouse {whlo}", "ITNO")


# Customer orders.
def order_not_found(orno: str) -> MINok:
    return MINok("WOR0203", f"Order number {orno} does not exist", "ORNO")


def order_has_no_lines(orno: str) -> MINok:
    return MINok("WOR0310", f"Order number {orno} has no lines and cannot be confirmed", "ORNO")


def order_not_deletable(orno: str, orst: str) -> MINok:
    return MINok("WOR0420", f"Order number {orno} has status {orst} and cannot be deleted", "ORNO")


def quantity_not_positive(value: str) -> MINok:
    return MINok("WQT0101", f"Ordered quantity {value} must be greater than zero", "ORQT")


# Deliveries and invoices.
def delivery_not_found(dlix: str) -> MINok:
    return MINok("WDL0203", f"Delivery number {dlix} does not exist", "DLIX")


def invoice_not_found(cino: str, inyr: str, cuno: str) -> MINok:
    return MINok("WIV0203", f"Invoice {cino}/{inyr} does not exist for customer {cuno}", "CINO")


# Payment batches.
def payment_batch_not_found(pbid: str) -> MINok:
    return MINok("WPB0203", f"Payment batch {pbid} does not exist", "PBID")


def payment_batch_posted(pbid: str) -> MINok:
    return MINok("WPB0410", f"Payment batch {pbid} is already posted", "PBID")


def payment_batch_empty(pbid: str) -> MINok:
    return MINok("WPB0310", f"Payment batch {pbid} has no lines", "PBID")


# Customer financial data and addresses (sandbox ids, unverified).
def invalid_value(field: str, value: str, allowed: str) -> MINok:
    return MINok("WVA0101", f"Value {value} in field {field} is invalid, use {allowed}", field)


def negative_credit_limit(field: str, value: str) -> MINok:
    return MINok("WCR0101", f"Credit limit {value} must not be negative", field)


def address_not_found(cuno: str, adrt: int, adid: str) -> MINok:
    return MINok("WAD0203", f"Address {adid} of type {adrt} does not exist for customer {cuno}", "ADID")


def invalid_search_query(problem: str) -> MINok:
    return MINok("WSQ0101", f"Search query is invalid: {problem}", "SQRY")


# Suppliers (sandbox ids, unverified).
def supplier_not_found(suno: str) -> MINok:
    return MINok("WSU0203", f"Supplier {suno} does not exist", "SUNO")


# Stock transactions (sandbox ids, unverified).
def invalid_process_flag(prfl: str) -> MINok:
    return MINok("WPR0101", f"Process flag {prfl} is invalid, use *EXE or *CHK", "PRFL")


def location_not_found(whsl: str, whlo: str) -> MINok:
    return MINok("WLO0203", f"Location {whsl} does not exist in warehouse {whlo}", "WHSL")


def lot_not_found(bano: str) -> MINok:
    return MINok("WLT0203", f"Lot number {bano} does not exist", "BANO")


def quantity_zero() -> MINok:
    return MINok("WQT0102", "Quantity must not be zero", "QLQT")


def balance_below_allocated(itno: str, whlo: str, onhand: str, allocated: str) -> MINok:
    text = (
        f"On-hand balance {onhand} of item {itno} in warehouse {whlo} "
        f"would be less than the allocated quantity {allocated}"
    )
    return MINok("WQT0110", text, "QLQT")


def balance_negative(itno: str, whlo: str, onhand: str) -> MINok:
    return MINok(
        "WQT0111", f"On-hand balance {onhand} of item {itno} in warehouse {whlo} would be negative", "QLQT"
    )


def facility_mismatch(whlo: str, faci: str) -> MINok:
    return MINok("WWH0310", f"Warehouse {whlo} does not belong to facility {faci}", "WHLO")


def supplier_blocked(suno: str) -> MINok:
    return MINok("WSU0210", f"Supplier {suno} is blocked", "SUNO")


# Purchase orders (sandbox ids, unverified; M3 does not publish which status blocks a change).
def entry_not_found(msgn: str) -> MINok:
    return MINok("WME0203", f"Message number {msgn} does not exist", "MSGN")


def entry_not_open(msgn: str, status: str) -> MINok:
    return MINok("WME0410", f"Message number {msgn} has status {status} and cannot be changed", "MSGN")


def entry_has_no_heads(msgn: str) -> MINok:
    return MINok("WME0310", f"Message number {msgn} has no purchase order", "MSGN")


def purchase_order_not_found(puno: str) -> MINok:
    return MINok("WPU0203", f"Purchase order number {puno} does not exist", "PUNO")


def purchase_order_not_in_entry(puno: str, msgn: str) -> MINok:
    return MINok("WPU0204", f"Purchase order number {puno} does not exist in message {msgn}", "PUNO")


def purchase_order_has_no_lines(puno: str) -> MINok:
    return MINok("WPU0310", f"Purchase order number {puno} has no lines", "PUNO")


def purchase_order_line_not_found(puno: str, pnli: int, pnls: int) -> MINok:
    return MINok("WPL0203", f"Purchase order line {puno}/{pnli}/{pnls} does not exist", "PNLI")


def purchase_order_line_status(puno: str, pnli: int, status: str) -> MINok:
    text = f"Purchase order line {puno}/{pnli} has status {status} and cannot be changed"
    return MINok("WPL0410", text, "PNLI")


def purchase_order_closed(puno: str) -> MINok:
    return MINok("WPU0410", f"Purchase order number {puno} is completed and cannot be changed", "PUNO")


def purchase_order_line_received(puno: str, pnli: int) -> MINok:
    text = f"Purchase order line {puno}/{pnli} has received quantity and cannot be deleted"
    return MINok("WPL0420", text, "PNLI")


def ordered_below_received(value: str, received: str) -> MINok:
    text = f"Ordered quantity {value} must not be less than the received quantity {received}"
    return MINok("WQA0110", text, "ORQA")


def purchase_quantity_not_positive(value: str) -> MINok:
    return MINok("WQA0101", f"Ordered quantity {value} must be greater than zero", "ORQA")


# Goods receipt through staged warehouse transactions (MHS850MI). WRI0102 and WIT0101 are the
# ids a tenant-tested script shows for these two refusals (m3-p2p.md §3); the rest are the sandbox's.
def order_number_missing() -> MINok:
    return MINok("WRI0102", "Order number (RIDN) must be entered", "RIDN")


def item_not_on_order_line(itno: str, puno: str, pnli: int, expected: str) -> MINok:
    text = f"Item number {itno} is not the item {expected} of purchase order line {puno}/{pnli}"
    return MINok("WIT0101", text, "ITNO")


def qualifier_not_supported(qlfr: str) -> MINok:
    return MINok("WQL0101", f"Qualifier {qlfr} is invalid, use 20 (receipt PO with direct put-away)", "QLFR")


def warehouse_message_not_found(msgn: str) -> MINok:
    return MINok("WMS0203", f"Message number {msgn} does not exist", "MSGN")


def warehouse_message_processed(msgn: str) -> MINok:
    return MINok("WMS0410", f"Message number {msgn} is already processed", "MSGN")


def warehouse_message_empty(msgn: str) -> MINok:
    return MINok("WMS0310", f"Message number {msgn} has no lines", "MSGN")


def external_message_not_found(e0pb: str, pmsn: str) -> MINok:
    return MINok("WMS0204", f"External message number {pmsn} does not exist for partner {e0pb}", "PMSN")


def received_quantity_not_positive(value: str) -> MINok:
    return MINok("WRV0101", f"Received quantity {value} must be greater than zero", "RVQA")


def order_warehouse_mismatch(puno: str, whlo: str) -> MINok:
    return MINok("WWH0311", f"Purchase order number {puno} is not for warehouse {whlo}", "RIDN")


# Supplier invoices (APS450MI/APS455MI; sandbox ids, unverified).
def invoice_batch_not_found(inbn: str) -> MINok:
    return MINok("WIB0203", f"Invoice batch number {inbn} does not exist", "INBN")


def invoice_batch_validated(inbn: str) -> MINok:
    return MINok("WIB0410", f"Invoice batch number {inbn} is already validated", "INBN")


def invoice_batch_empty(inbn: str) -> MINok:
    return MINok("WIB0310", f"Invoice batch number {inbn} has no lines", "INBN")


def duplicate_supplier_invoice(sino: str, suno: str, inbn: int) -> MINok:
    text = f"Supplier invoice number {sino} already exists for supplier {suno} in invoice batch {inbn}"
    return MINok("WSI0103", text, "SINO")


def invoice_line_supplier(puno: str, suno: str) -> MINok:
    return MINok("WSI0310", f"Purchase order number {puno} is not from supplier {suno}", "PUNO")


def invoice_line_status(puno: str, pnli: int, status: str) -> MINok:
    text = f"Purchase order line {puno}/{pnli} has status {status} and cannot be invoiced"
    return MINok("WSI0410", text, "PNLI")


def invoiced_quantity_not_positive(value: str) -> MINok:
    return MINok("WIQ0101", f"Invoiced quantity {value} must be greater than zero", "IVQA")


def receiving_number_not_found(repn: str, puno: str, pnli: int) -> MINok:
    return MINok("WRE0203", f"Receiving number {repn} does not exist for line {puno}/{pnli}", "REPN")


def account_not_found(field: str, value: str) -> MINok:
    return MINok("WAC0203", f"Accounting dimension {value} does not exist", field)


# GL interface (GLS840MI; sandbox ids, unverified).
def interface_not_found(intn: str) -> MINok:
    return MINok("WIN0203", f"Interface {intn} does not exist", "INTN")


def gl_batch_not_found(key1: str) -> MINok:
    return MINok("WGL0203", f"Key value {key1} does not exist", "KEY1")


def gl_batch_errors(key1: str, problems: list[str]) -> MINok:
    return MINok("WGL0310", f"Key value {key1} has errors: " + "; ".join(problems), "KEY1")


def voucher_not_found(divi: str, yea4: int, vono: int) -> MINok:
    return MINok("WVO0203", f"Voucher {vono} of year {yea4} does not exist in division {divi}", "VONO")

"""``m3bng doctor``: check a configuration against the real systems before go-live.

One line per check: ``ok``, ``FAILED`` (with the reason and the setting to fix), ``skipped`` (a
check it needs failed first) or ``not checkable`` (M3 has no MI read for it: check it by hand).
The exit status is 1 when any check failed.

Every M3 call is a read (no MI transaction here changes M3):

- company and division: ``MNS100MI/GetBasicData`` with the configured CONO/DIVI (this call also
  proves the ``.ionapi`` credentials: a token is issued before it);
- customer order type: ``OIS010MI/LstOrderTypes`` from ORTP, one row;
- customer template: ``CRS610MI/GetBasicData`` on ``m3_customer_template``;
- purchase order type: ``PPS095MI/LstOrderType`` from ORTY, one row.

Not checkable through MI, reported as such: the ``ARS040MI`` batch payment type (BOPE; the only
MI read of batch payment types, ARBR75MI, is the Brazilian localisation), the ``PPS370MI`` batch
origin (BAOR, PPS090: only ``PPS370MI/StartEntry`` takes it, and that opens a batch) and the
``MHS850MI`` WMS partner and message type (E0PA/E065, MMS865: taken only by writes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import structlog
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from clients.bng.client import BngClient
from clients.bng.errors import BngAuthError, BngError, BngNotFoundError, BngTransientError
from clients.m3 import (
    IonApiFile,
    M3AuthError,
    M3BusinessError,
    M3Client,
    M3Error,
    M3TransientError,
    load_ionapi,
)
from clients.temporal_connection import connect
from settings import Settings, receiver_problems, webhook_secret_problem
from storage.db import alembic_config, current_revision, make_engine, wait_for_database
from workflows import search_attributes as sa

# Short waits: the doctor reports an unreachable system, it does not wait for it.
TEMPORAL_WAIT_SECONDS = 5.0
DATABASE_WAIT_SECONDS = 3.0
HTTP_TIMEOUT_SECONDS = 15.0


class Status(StrEnum):
    OK = "ok"
    FAILED = "FAILED"
    SKIPPED = "skipped"
    NOT_CHECKABLE = "not checkable"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    # The env variable(s) to fix, for a failed check.
    setting: str = ""

    def line(self) -> str:
        fix = f"  -> fix {self.setting}" if self.status is Status.FAILED and self.setting else ""
        return f"{self.status.value:<13} {self.name:<28} {self.detail}{fix}"


def _ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def _failed(name: str, detail: str, setting: str) -> Check:
    return Check(name, Status.FAILED, detail, setting)


def _skipped(name: str, needs: str) -> Check:
    return Check(name, Status.SKIPPED, f"needs {needs}, which failed")


def _error_text(error: BaseException) -> str:
    return str(error) or type(error).__name__


# --- M3 ------------------------------------------------------------------------------------------

IONAPI = "M3BNG_M3_IONAPI"
CONO_DIVI = "M3BNG_M3_CONO / M3BNG_M3_DIVI"


def _check_ionapi(settings: Settings) -> tuple[Check, IonApiFile | None]:
    name, path = "m3.ionapi", settings.m3_ionapi
    try:
        ionapi = load_ionapi(path)
    except OSError as error:
        return _failed(name, f"cannot read {path}: {error.strerror or error}", IONAPI), None
    except json.JSONDecodeError as error:
        return _failed(name, f"{path} is not JSON: {error}", IONAPI), None
    except ValidationError as error:
        missing = ", ".join(str(problem["loc"][0]) for problem in error.errors() if problem["loc"])
        return _failed(name, f"{path} lacks or has malformed keys: {missing}", IONAPI), None
    return _ok(name, f"{path}: tenant {ionapi.ti}, app {ionapi.cn}, API {ionapi.m3_base_url}"), ionapi


async def _m3_checks(settings: Settings) -> list[Check]:
    ionapi_check, ionapi = _check_ionapi(settings)
    checks = [ionapi_check]
    reads = ("m3.company_division", "m3.order_type", "m3.customer_template", "m3.po_order_type")
    if ionapi is None:
        checks.append(_skipped("m3.token", "m3.ionapi"))
        checks += [_skipped(name, "m3.ionapi") for name in reads]
        return checks + _m3_not_checkable(settings)
    async with M3Client(
        ionapi,
        cono=settings.m3_cono,
        divi=settings.m3_divi,
        timeout=min(settings.m3_timeout_seconds, HTTP_TIMEOUT_SECONDS),
        max_attempts=1,
    ) as m3:
        # The first read fetches the token: an auth failure there is the token's, not the company's.
        company_division: Check
        try:
            division = await m3.get_one("MNS100MI", "GetBasicData")
        except M3AuthError as error:
            checks.append(_failed("m3.token", f"M3 refused the .ionapi credentials: {error}", IONAPI))
            checks += [_skipped(name, "m3.token") for name in reads]
            return checks + _m3_not_checkable(settings)
        except M3TransientError as error:
            checks.append(_failed("m3.token", f"ION API unreachable: {_error_text(error)}", IONAPI))
            checks += [_skipped(name, "m3.token") for name in reads]
            return checks + _m3_not_checkable(settings)
        except M3BusinessError as error:
            setting = {"CONO": "M3BNG_M3_CONO", "DIVI": "M3BNG_M3_DIVI"}.get(error.field or "", CONO_DIVI)
            company_division = _failed(
                "m3.company_division", f"MNS100MI/GetBasicData: {error.message}", setting
            )
        except M3Error as error:
            company_division = _failed("m3.company_division", f"MNS100MI/GetBasicData: {error}", CONO_DIVI)
        else:
            company_division = _ok(
                "m3.company_division",
                f"CONO {settings.m3_cono} ({division.get('CONM', '')}), DIVI {settings.m3_divi} "
                f"({division.get('TX15', '')}), MNS100MI/GetBasicData",
            )
        checks.append(_ok("m3.token", f"issued by {ionapi.token_url}"))
        checks.append(company_division)
        if company_division.status is not Status.OK:
            checks += [_skipped(name, "m3.company_division") for name in reads[1:]]
            return checks + _m3_not_checkable(settings)
        checks.append(
            await _m3_listed(
                m3, "m3.order_type", ("OIS010MI", "LstOrderTypes", "ORTP"), settings.m3_order_type,
                "M3BNG_M3_ORDER_TYPE", "customer order type",
            )
        )  # fmt: skip
        checks.append(await _m3_customer_template(m3, settings))
        checks.append(
            await _m3_listed(
                m3, "m3.po_order_type", ("PPS095MI", "LstOrderType", "ORTY"), settings.m3_po_order_type,
                "M3BNG_M3_PO_ORDER_TYPE", "purchase order type",
            )
        )  # fmt: skip
    return checks + _m3_not_checkable(settings)


async def _m3_listed(
    m3: M3Client, name: str, call: tuple[str, str, str], value: str, setting: str, what: str
) -> Check:
    """A code M3 lists from a start key: the first row must be the code itself."""
    program, transaction, key = call
    where = f"{program}/{transaction}"
    try:
        rows = await m3.execute(program, transaction, {key: value}, maxrecs=1)
    except M3Error as error:
        return _failed(name, f"{where}: {error}", setting)
    if rows and rows[0].get(key) == value:
        return _ok(name, f"{what} {value!r} ({rows[0].get('TX40') or rows[0].get('TX15', '')}), {where}")
    return _failed(name, f"M3 has no {what} {value!r} ({where})", setting)


async def _m3_customer_template(m3: M3Client, settings: Settings) -> Check:
    name, template = "m3.customer_template", settings.m3_customer_template
    try:
        customer = await m3.get_one("CRS610MI", "GetBasicData", {"CUNO": template})
    except M3BusinessError as error:
        detail = f"no template customer {template!r} in M3 (CRS610MI/GetBasicData: {error.message})"
        return _failed(name, detail, "M3BNG_M3_CUSTOMER_TEMPLATE")
    except M3Error as error:
        return _failed(name, f"CRS610MI/GetBasicData: {error}", "M3BNG_M3_CUSTOMER_TEMPLATE")
    return _ok(name, f"customer {template!r} ({customer.get('CUNM', '')}), CRS610MI/GetBasicData")


def _m3_not_checkable(settings: Settings) -> list[Check]:
    return [
        Check(
            "m3.payment_batch_type",
            Status.NOT_CHECKABLE,
            f"BOPE {settings.m3_payment_batch_type!r} (M3BNG_M3_PAYMENT_BATCH_TYPE): no standard MI reads "
            "batch payment types (ARBR75MI is the Brazilian localisation); check it in M3 for "
            f"division {settings.m3_divi}",
        ),
        Check(
            "m3.po_batch_origin",
            Status.NOT_CHECKABLE,
            f"BAOR {settings.m3_po_batch_origin!r} (M3BNG_M3_PO_BATCH_ORIGIN): defined in PPS090, which "
            "has no MI; only PPS370MI/StartEntry takes it, and that opens a batch",
        ),
        Check(
            "m3.wms_partner",
            Status.NOT_CHECKABLE,
            f"E0PA {settings.m3_wms_partner!r} / E065 {settings.m3_wms_message_type!r} "
            "(M3BNG_M3_WMS_PARTNER, M3BNG_M3_WMS_MESSAGE_TYPE): MMS865 partners have no MI read; "
            "only MHS850MI writes take them",
        ),
    ]


# --- BNG, webhooks, IMS --------------------------------------------------------------------------


async def _bng_check(settings: Settings) -> Check:
    name = "bng.api"
    secret = settings.bng_client_secret.get_secret_value()
    api_key = settings.bng_api_key.get_secret_value() if settings.bng_api_key else None
    uses_client = bool(settings.bng_client_id and secret)
    credentials = "M3BNG_BNG_CLIENT_ID / M3BNG_BNG_CLIENT_SECRET" if uses_client else "M3BNG_BNG_API_KEY"
    if not uses_client and not api_key:
        return _failed(name, "no BNG credentials", "M3BNG_BNG_CLIENT_SECRET (or M3BNG_BNG_API_KEY)")
    how = "OAuth client credentials" if uses_client else "API key"
    try:
        async with BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=secret,
            api_key=api_key,
            timeout=HTTP_TIMEOUT_SECONDS,
            max_attempts=1,
        ) as bng:
            async for _customer in bng.iter_customers(page_size=1):
                break
    except BngAuthError as error:
        return _failed(name, f"BNG refused the {how}: {error.message}", credentials)
    except BngNotFoundError:
        detail = f"{settings.bng_base_url} has no BNG API (404 on GET /api/v1/customers)"
        return _failed(name, detail, "M3BNG_BNG_BASE_URL")
    except (BngTransientError, httpx.HTTPError) as error:
        return _failed(name, f"BNG unreachable at {settings.bng_base_url}: {error}", "M3BNG_BNG_BASE_URL")
    except BngError as error:
        return _failed(name, f"GET /api/v1/customers: {error.message}", "M3BNG_BNG_BASE_URL")
    return _ok(name, f"{how} accepted at {settings.bng_base_url}, GET /api/v1/customers answered")


def _webhook_secret_check(settings: Settings) -> Check:
    name = "bng.webhook_secret"
    if problem := webhook_secret_problem(settings.bng_webhook_secret.get_secret_value()):
        return _failed(name, f"M3BNG_BNG_WEBHOOK_SECRET {problem}", "M3BNG_BNG_WEBHOOK_SECRET")
    return _ok(name, "whsec_ + base64 of 24 to 64 bytes")


async def _ims_check(settings: Settings) -> Check:
    name = "ims.auth"
    webhook = "M3BNG_BNG_WEBHOOK_SECRET"
    problems = [problem for problem in receiver_problems(settings) if not problem.startswith(webhook)]
    if problems:
        settings_named = ", ".join(dict.fromkeys(problem.split()[0] for problem in problems))
        return _failed(name, "; ".join(problems), settings_named)
    if settings.ims_auth_mode == "shared_secret":
        return _ok(name, "shared_secret: a bearer secret of at least 16 printable characters")
    try:
        keys = await _jwks_keys(settings)
    except (OSError, ValueError, httpx.HTTPError) as error:
        where = "M3BNG_IMS_OAUTH_JWKS_FILE" if settings.ims_oauth_jwks_file else "M3BNG_IMS_OAUTH_JWKS_URL"
        return _failed(name, f"the JWKS cannot be read: {_error_text(error)}", where)
    return _ok(
        name,
        f"oauth: issuer {settings.ims_oauth_issuer}, audience {settings.ims_oauth_audience}, "
        f"JWKS with {keys} key(s)",
    )


async def _jwks_keys(settings: Settings) -> int:
    if settings.ims_oauth_jwks_file:
        document = json.loads(Path(settings.ims_oauth_jwks_file).read_text(encoding="utf-8"))
    else:
        assert settings.ims_oauth_jwks_url  # receiver_problems checked one of the two is set
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.get(settings.ims_oauth_jwks_url)
            response.raise_for_status()
            document = response.json()
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError("no 'keys' list in it")
    return len(keys)


# --- Temporal ------------------------------------------------------------------------------------


def _type_name(value: int) -> str:
    """As ``temporal operator search-attribute create --type`` spells it: Keyword, Text..."""
    try:
        return SearchAttributeIndexedValueType(value).name.title().replace("_", "")
    except ValueError:
        return f"type {value}"


async def _temporal_checks(
    settings: Settings, expected: Sequence[SearchAttributeKey[Any]] = sa.ALL
) -> list[Check]:
    where = f"{settings.temporal_address}"
    namespace = settings.temporal_namespace
    try:
        client = await connect(settings, wait_seconds=TEMPORAL_WAIT_SECONDS)
    except Exception as error:
        setting = "M3BNG_TEMPORAL_ADDRESS (and _TLS, _API_KEY, _TLS_CLIENT_CERT/_KEY, M3BNG_PAYLOAD_KEY)"
        return [
            _failed("temporal.connection", f"cannot connect to {where}: {_error_text(error)}", setting),
            _skipped("temporal.namespace", "temporal.connection"),
            _skipped("temporal.search_attributes", "temporal.connection"),
        ]
    checks = [_ok("temporal.connection", f"connected to {where}")]
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as error:
        reason = "does not exist" if error.status == RPCStatusCode.NOT_FOUND else error.message
        checks.append(
            _failed("temporal.namespace", f"namespace {namespace!r}: {reason}", "M3BNG_TEMPORAL_NAMESPACE")
        )
        checks.append(_skipped("temporal.search_attributes", "temporal.namespace"))
        return checks
    checks.append(_ok("temporal.namespace", f"namespace {namespace!r} exists"))
    checks.append(await _search_attributes_check(client, namespace, expected))
    return checks


async def _search_attributes_check(
    client: Client, namespace: str, expected: Sequence[SearchAttributeKey[Any]]
) -> Check:
    name = "temporal.search_attributes"
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as error:
        return _failed(
            name, f"cannot list the search attributes: {error.message}", "M3BNG_TEMPORAL_NAMESPACE"
        )
    registered = dict(response.custom_attributes)
    problems = []
    for key in expected:
        want = int(key.indexed_value_type)
        have = registered.get(key.name)
        create = f"temporal operator search-attribute create --name {key.name} --type {_type_name(want)}"
        if have is None:
            problems.append(f"{key.name} missing ({create})")
        elif int(have) != want:
            problems.append(f"{key.name} is {_type_name(int(have))}, must be {_type_name(want)}")
    if problems:
        detail = f"namespace {namespace!r}: " + "; ".join(problems)
        return _failed(name, detail, "the namespace's search attributes (or M3BNG_TEMPORAL_NAMESPACE)")
    return _ok(name, f"all {len(expected)} registered with their types")


# --- database ------------------------------------------------------------------------------------


def _database_check(settings: Settings) -> Check:
    name, setting = "database.migration", "DATABASE_URL"
    try:
        url = make_url(settings.database_url)
    except Exception as error:
        return _failed(name, f"not a database URL: {error}", setting)
    shown = url.render_as_string(hide_password=True)
    database = url.database or ""
    # Connecting to SQLite creates the file: a doctor must not create the store it checks.
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not Path(database).exists()
    ):
        return _failed(
            name, f"{shown}: the file does not exist (run python -m storage.migrate upgrade)", setting
        )
    engine = make_engine(settings.database_url)
    try:
        wait_for_database(engine, wait_seconds=DATABASE_WAIT_SECONDS)
        with engine.connect() as connection:
            head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
        current = current_revision(engine)
    except Exception as error:
        return _failed(name, f"{shown}: {_error_text(error)}", setting)
    finally:
        engine.dispose()
    if current != head:
        detail = (
            f"{shown} is at {current or 'no revision'}, the latest is {head}: "
            "run python -m storage.migrate upgrade (the worker and the receiver also do at start-up)"
        )
        return _failed(name, detail, setting)
    return _ok(name, f"{shown} at the latest revision {head}")


# --- running -------------------------------------------------------------------------------------


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in a fixed order; each failure is caught and reported, never raised."""
    steps: list[Callable[[], Awaitable[list[Check]]]] = [
        lambda: _m3_checks(settings),
        lambda: _one(_bng_check(settings)),
        lambda: _one(asyncio.to_thread(_webhook_secret_check, settings)),
        lambda: _one(_ims_check(settings)),
        lambda: _temporal_checks(settings),
        lambda: _one(asyncio.to_thread(_database_check, settings)),
    ]
    checks: list[Check] = []
    for step in steps:
        try:
            checks += await step()
        except Exception as error:
            checks.append(_failed("doctor", f"a check crashed: {type(error).__name__}: {error}", ""))
    return checks


async def _one(check: Awaitable[Check]) -> list[Check]:
    return [await check]


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(check.status is Status.FAILED for check in checks) else 0


def _logs_to_stderr() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


async def run_doctor(settings: Settings, *, as_json: bool = False) -> int:
    """Print one line per check (or JSON); 1 when any check failed.

    The report goes to stdout and the clients' log lines to stderr, so ``--json`` stays parseable.
    """
    _logs_to_stderr()
    checks = await run_checks(settings)
    if as_json:
        print(json.dumps([{**asdict(check), "status": check.status.value} for check in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
        failed = sum(check.status is Status.FAILED for check in checks)
        print(f"\n{failed} check(s) failed" if failed else "\nall checks passed")
    return exit_code(checks)

"""``m3bng doctor`` against the test stack: it passes as configured, and each broken setting makes
it name the failing check, the setting to fix, and exit non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.service import RPCError

from settings import Settings
from starter import doctor
from starter.doctor import Check, Status, exit_code, run_checks
from storage.db import make_engine, upgrade_schema
from tests.conftest import Stack

M3BNG = Path(sys.executable).parent / "m3bng"


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def failed(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks if check.status is Status.FAILED}


async def test_doctor_passes_against_the_test_stack(stack: Stack) -> None:
    checks = await run_checks(stack.settings)
    assert failed(checks) == {}
    assert exit_code(checks) == 0
    statuses = {name: check.status for name, check in by_name(checks).items()}
    assert statuses == {
        "m3.ionapi": Status.OK,
        "m3.token": Status.OK,
        "m3.company_division": Status.OK,
        "m3.order_type": Status.OK,
        "m3.customer_template": Status.OK,
        "m3.po_order_type": Status.OK,
        "m3.payment_batch_type": Status.NOT_CHECKABLE,
        "m3.po_batch_origin": Status.NOT_CHECKABLE,
        "m3.wms_partner": Status.NOT_CHECKABLE,
        "bng.api": Status.OK,
        "bng.webhook_secret": Status.OK,
        "ims.auth": Status.OK,
        "temporal.connection": Status.OK,
        "temporal.namespace": Status.OK,
        "temporal.search_attributes": Status.OK,
        "database.migration": Status.OK,
    }
    # The reads it made are the M3 transactions the README names.
    for program, transaction in [
        ("MNS100MI", "GetBasicData"),
        ("OIS010MI", "LstOrderTypes"),
        ("PPS095MI", "LstOrderType"),
    ]:
        assert await stack.m3_calls(program, transaction), f"{program}/{transaction} was not called"


def _bad_ionapi(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    data = json.loads(stack.settings.m3_ionapi.read_text())
    path = tmp_path / "bad.ionapi"
    path.write_text(json.dumps({**data, "sask": "not-the-secret"}))
    return {"m3_ionapi": path}


def _missing_ionapi(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    return {"m3_ionapi": tmp_path / "absent.ionapi"}


def _database_behind(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade_schema(engine, "0003_payment_batch")
    engine.dispose()
    return {"database_url": url}


def _database_missing(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    return {"database_url": f"sqlite:///{tmp_path / 'nowhere.db'}"}


Broken = Callable[[Stack, Path], dict[str, Any]]


def _values(**values: Any) -> Broken:
    return lambda _stack, _tmp: values


BROKEN: dict[str, tuple[Broken, str, str]] = {
    # case: (settings, the failing check, the setting it names)
    "bad ionapi secret": (_bad_ionapi, "m3.token", "M3BNG_M3_IONAPI"),
    "no ionapi file": (_missing_ionapi, "m3.ionapi", "M3BNG_M3_IONAPI"),
    "wrong CONO": (_values(m3_cono=999), "m3.company_division", "M3BNG_M3_CONO"),
    "wrong DIVI": (_values(m3_divi="ZZZ"), "m3.company_division", "M3BNG_M3_DIVI"),
    "unknown order type": (_values(m3_order_type="Z99"), "m3.order_type", "M3BNG_M3_ORDER_TYPE"),
    "unknown customer template": (
        _values(m3_customer_template="NOSUCHTMPL"),
        "m3.customer_template",
        "M3BNG_M3_CUSTOMER_TEMPLATE",
    ),
    "unknown PO order type": (_values(m3_po_order_type="999"), "m3.po_order_type", "M3BNG_M3_PO_ORDER_TYPE"),
    "bad BNG secret": (
        _values(bng_client_secret=SecretStr("not-the-bng-secret")),
        "bng.api",
        "M3BNG_BNG_CLIENT_SECRET",
    ),
    "wrong BNG URL": (_values(bng_base_url="http://127.0.0.1:9"), "bng.api", "M3BNG_BNG_BASE_URL"),
    "malformed webhook secret": (
        _values(bng_webhook_secret=SecretStr("whsec_c2hvcnQ=")),
        "bng.webhook_secret",
        "M3BNG_BNG_WEBHOOK_SECRET",
    ),
    "IMS oauth without issuer": (
        _values(
            ims_auth_mode="oauth", ims_oauth_audience="m3bng", ims_oauth_jwks_url="http://127.0.0.1:9/jwks"
        ),
        "ims.auth",
        "M3BNG_IMS_OAUTH_ISSUER",
    ),
    "wrong namespace": (
        _values(temporal_namespace="no-such-namespace"),
        "temporal.namespace",
        "M3BNG_TEMPORAL_NAMESPACE",
    ),
    "Temporal unreachable": (
        _values(temporal_address="127.0.0.1:9"),
        "temporal.connection",
        "M3BNG_TEMPORAL_ADDRESS",
    ),
    "database behind": (_database_behind, "database.migration", "DATABASE_URL"),
    "database missing": (_database_missing, "database.migration", "DATABASE_URL"),
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_each_broken_setting_names_its_check(
    case: str, stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "TEMPORAL_WAIT_SECONDS", 0.5)
    make, check_name, setting = BROKEN[case]
    settings = stack.settings.model_copy(update=make(stack, tmp_path))
    checks = await run_checks(settings)
    failures = failed(checks)
    assert list(failures) == [check_name], [check.line() for check in checks]
    assert setting in failures[check_name].setting
    assert exit_code(checks) == 1


async def test_the_wrong_CONO_is_quoted_from_M3(stack: Stack) -> None:
    checks = by_name(await run_checks(stack.settings.model_copy(update={"m3_cono": 999})))
    line = checks["m3.company_division"].line()
    assert line.startswith("FAILED")
    assert "Not authorized for company 999" in line
    assert line.endswith("-> fix M3BNG_M3_CONO")
    # The reads that need the company are skipped, not failed a second time.
    assert checks["m3.order_type"].status is Status.SKIPPED


async def _namespace_without_our_attributes(stack: Stack) -> str:
    """A fresh namespace where BngOrderId is Text (not Keyword) and the others are missing."""
    namespace = f"doctor-{uuid.uuid4().hex[:8]}"
    service = stack.client.workflow_service
    await service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    request = AddSearchAttributesRequest(
        namespace=namespace, search_attributes={"BngOrderId": IndexedValueType.INDEXED_VALUE_TYPE_TEXT}
    )
    for _ in range(100):  # the new namespace reaches the server's caches within seconds
        try:
            await stack.client.operator_service.add_search_attributes(request)
            return namespace
        except RPCError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"namespace {namespace} never took a search attribute")


async def test_missing_and_mistyped_search_attributes(stack: Stack) -> None:
    namespace = await _namespace_without_our_attributes(stack)
    checks = await run_checks(stack.settings.model_copy(update={"temporal_namespace": namespace}))
    failures = failed(checks)
    assert list(failures) == ["temporal.search_attributes"]
    detail = failures["temporal.search_attributes"].detail
    assert "BngOrderId is Text, must be Keyword" in detail
    assert (
        "DocumentId missing (temporal operator search-attribute create --name DocumentId --type Text)"
        in detail
    )
    assert "OrderStage missing" in detail


def _environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The stack's settings as the environment of an ``m3bng`` process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("M3BNG_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "M3BNG_M3_IONAPI": str(settings.m3_ionapi),
            "M3BNG_BNG_BASE_URL": settings.bng_base_url,
            "M3BNG_BNG_CLIENT_SECRET": settings.bng_client_secret.get_secret_value(),
            "M3BNG_BNG_WEBHOOK_SECRET": settings.bng_webhook_secret.get_secret_value(),
            "M3BNG_IMS_SHARED_SECRET": settings.ims_shared_secret.get_secret_value(),
            "M3BNG_TEMPORAL_ADDRESS": settings.temporal_address,
            "DATABASE_URL": settings.database_url,
            **overrides,
        }
    )
    return env


async def _m3bng(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(M3BNG), *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    stdout, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode()


async def test_the_command_line(stack: Stack, tmp_path: Path) -> None:
    code, out = await _m3bng(tmp_path, _environment(stack.settings), "doctor")
    assert code == 0, out
    assert "all checks passed" in out
    assert "FAILED" not in out

    env = _environment(stack.settings, M3BNG_M3_CUSTOMER_TEMPLATE="NOSUCHTMPL")
    code, out = await _m3bng(tmp_path, env, "doctor")
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert "m3.customer_template" in line
    assert "NOSUCHTMPL" in line
    assert line.endswith("-> fix M3BNG_M3_CUSTOMER_TEMPLATE")

    code, out = await _m3bng(tmp_path, env, "doctor", "--json")
    assert code == 1
    reported = {check["name"]: check for check in json.loads(out)}
    assert reported["m3.customer_template"]["status"] == "FAILED"
    assert reported["m3.customer_template"]["setting"] == "M3BNG_M3_CUSTOMER_TEMPLATE"

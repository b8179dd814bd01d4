"""The m3api-rest endpoints (v1, v2, v2 bulk), direct and through the ION API gateway path.

In front of every call sits what the gateway does: the Bearer check, the quota, scripted faults
and latency. Then the executor runs the transaction and protocol.py renders the answer, unless the
gateway loses it (an after-commit fault: the client gets 502/503/504 for a committed call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.m3 import protocol
from sandbox.m3.auth import TokenIssuer, bearer_error, bearer_token
from sandbox.m3.calllog import CallLog
from sandbox.m3.chaos import REASONS, Chaos, Fault
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.executor import Executor

V1, V2, BULK = "v1", "v2", "bulk"


class Gateway:
    """Auth, quota, faults and latency for one MI request; then the call itself."""

    def __init__(self, config: M3SandboxConfig, issuer: TokenIssuer, chaos: Chaos, calls: CallLog) -> None:
        self.config, self.issuer, self.chaos, self.calls = config, issuer, chaos, calls

    async def handle(
        self,
        request: Request,
        tenant: str | None,
        api: str,
        program: str,
        calls: list[tuple[str, dict[str, str]]],
        call: Callable[[], Awaitable[Response]],
    ) -> Response:
        if tenant is not None and tenant != self.config.tenant:
            raise HTTPException(404, f"Unknown tenant {tenant}")
        token = bearer_token(request)
        if token is None or not self.issuer.is_valid(token):
            return bearer_error()
        fault = self.chaos.check(program, [transaction for transaction, _ in calls])
        if fault is not None and not fault.after_commit:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            for transaction, record in calls or [("", {})]:
                self.calls.add(
                    api=api,
                    program=program,
                    transaction=transaction,
                    record=record,
                    outcome="fault",
                    status=fault.status,
                    message=fault.reason,
                )
            return _gateway_error(fault)
        if latency := self.chaos.knobs.latency_ms:
            await asyncio.sleep(latency / 1000)
        if fault is None:
            return await call()
        # After commit: M3 runs and commits the call, then the gateway times out and drops the answer.
        with self.calls.answer_lost(fault.status):
            await call()
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        return _gateway_error(fault)


def _gateway_error(fault: Fault) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    body = {"code": fault.status, "message": REASONS.get(fault.status, "Error")}
    return JSONResponse(body, status_code=fault.status, headers=headers)


def _split_params(request: Request, segment: str) -> tuple[str, dict[str, str], protocol.CallOptions]:
    transaction, matrix = protocol.split_matrix(segment)
    query = dict(request.query_params.multi_items())
    controls = {**matrix, **{k.lower(): v for k, v in query.items() if not k.isupper()}}
    return transaction, protocol.record_from(query), protocol.options_from(controls)


def _tenant(request: Request) -> str | None:
    return request.path_params.get("tenant")


def mi_router(gateway: Gateway, executor: Executor) -> APIRouter:
    router = APIRouter()

    async def execute_v1(request: Request, program: str, segment: str) -> Response:
        transaction, record, opts = _split_params(request, segment)

        async def call() -> Response:
            result = await run_in_threadpool(executor.run, V1, program, transaction, record, opts)
            return JSONResponse(
                protocol.v1_body(program, transaction, result.definition, result.rows, opts, result.error)
            )

        return await gateway.handle(request, _tenant(request), V1, program, [(transaction, record)], call)

    async def execute_v2(request: Request, program: str, segment: str) -> Response:
        transaction, record, opts = _split_params(request, segment)

        async def call() -> Response:
            result = await run_in_threadpool(executor.run, V2, program, transaction, record, opts)
            body = protocol.v2_result(transaction, result.definition, result.rows, opts, result.error, record)
            if result.error is not None:
                return JSONResponse(protocol.v2_error_body(body), status_code=400)
            return JSONResponse(protocol.v2_body([body]))

        return await gateway.handle(request, _tenant(request), V2, program, [(transaction, record)], call)

    async def execute_bulk(request: Request) -> Response:
        try:
            payload: Any = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not payload.get("program"):
            return JSONResponse(
                {
                    "errorMessage": "The body must be a JSON object naming a program",
                    "errorType": "BadRequest",
                },
                status_code=400,
            )
        program = str(payload["program"])
        items = [t for t in payload.get("transactions") or [] if isinstance(t, dict)]
        query = {k.lower(): v for k, v in request.query_params.items()}
        # Body keys override the query string.
        for body_key, control in (
            ("cono", "cono"),
            ("divi", "divi"),
            ("excludeEmptyValues", "excludeempty"),
            ("rightTrim", "righttrim"),
            ("maxReturnedRecords", "maxrecs"),
        ):
            if payload.get(body_key) is not None:
                value = payload[body_key]
                query[control] = str(value).lower() if isinstance(value, bool) else str(value)

        parsed = [
            (
                str(item.get("transaction", "")),
                {str(k).upper(): str(v) for k, v in (item.get("record") or {}).items() if v is not None},
                [str(c).upper() for c in item.get("selectedColumns") or []],
            )
            for item in items
        ]

        def run_all() -> list[dict[str, Any]]:
            results = []
            for transaction, record, columns in parsed:
                opts = protocol.options_from(query)
                if columns:
                    opts.returncols = columns
                result = executor.run(BULK, program, transaction, record, opts)
                results.append(
                    protocol.v2_result(
                        transaction, result.definition, result.rows, opts, result.error, record
                    )
                )
            return results

        async def call() -> Response:
            return JSONResponse(protocol.v2_body(await run_in_threadpool(run_all)))

        calls = [(transaction, record) for transaction, record, _ in parsed]
        return await gateway.handle(request, _tenant(request), BULK, program, calls, call)

    for prefix in ("", "/{tenant}/M3"):
        router.add_api_route(
            f"{prefix}/m3api-rest/execute/{{program}}/{{segment}}", execute_v1, methods=["GET"]
        )
        router.add_api_route(
            f"{prefix}/m3api-rest/v2/execute/{{program}}/{{segment}}", execute_v2, methods=["GET"]
        )
        router.add_api_route(f"{prefix}/m3api-rest/v2/execute", execute_bulk, methods=["POST"])
    return router

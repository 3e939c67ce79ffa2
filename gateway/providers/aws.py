"""What the AWS adapters (bedrock, sagemaker) share: cached boto3 clients, a thread pool, error mapping.

boto3 calls block, so they run on a dedicated thread pool (not the event loop, and not asyncio's small
default pool, which a few slow generations would exhaust). Clients are cached per service, region,
endpoint URL, credentials and timeouts; boto3 clients are thread-safe once created. Credentials come from
the target's secret as JSON `{"aws_access_key_id", "aws_secret_access_key", "aws_session_token"?}`, else
boto3's default chain (environment, instance or task role).

boto3 is imported on first use, not with the gateway: it costs about 39 MB of RSS per process, which a
deployment without AWS endpoints should not pay.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamTimeoutError,
    upstream_error_for_status,
)
from gateway.providers.base import UpstreamTarget

# Concurrent blocking AWS calls per process (each streaming answer holds one thread while it lasts).
THREADS = int(os.environ.get("GATEWAY_AWS_THREADS", "64"))
_executor: ThreadPoolExecutor | None = None
_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()

STATUS_OF_CODE = {
    "ValidationException": 400,
    "ModelErrorException": 502,
    "ModelError": 502,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 401,
    "InvalidSignatureException": 401,
    "ExpiredTokenException": 401,
    "IncompleteSignature": 401,
    "ResourceNotFoundException": 404,
    "ValidationError": 400,
    "ThrottlingException": 429,
    "TooManyRequestsException": 429,
    "ServiceQuotaExceededException": 429,
    "ModelNotReadyException": 503,
    "ServiceUnavailableException": 503,
    "ServiceUnavailable": 503,
    "ModelTimeoutException": 504,
    "InternalServerException": 500,
    "InternalFailure": 500,
    "ModelStreamErrorException": 502,
}


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="gateway-aws")
    return _executor


def credentials_of(target: UpstreamTarget) -> dict[str, str]:
    """boto3 credential arguments from the target's secret; {} means boto3's default chain."""
    if not target.api_key:
        return {}
    try:
        data = orjson.loads(target.api_key)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not data.get("aws_access_key_id") or not data.get("aws_secret_access_key"):
        raise UpstreamError(
            f"{target.provider_kind} error: the endpoint's secret must be JSON with aws_access_key_id and "
            "aws_secret_access_key (or empty, for the instance role)",
            code="upstream_misconfigured",
            provider=target.provider_kind,
        )
    creds = {"aws_access_key_id": data["aws_access_key_id"], "aws_secret_access_key": data["aws_secret_access_key"]}
    if data.get("aws_session_token"):
        creds["aws_session_token"] = data["aws_session_token"]
    return creds


def _region(target: UpstreamTarget) -> str:
    return target.region or target.config.get("region") or os.environ.get("AWS_REGION") or "us-east-1"


def _client_key(service: str, target: UpstreamTarget) -> tuple[Any, ...]:
    return (
        service,
        _region(target),
        target.base_url or None,
        target.api_key,
        target.connect_timeout,
        target.first_byte_timeout,
        int(target.config.get("max_attempts") or 1),
    )


def client_for(service: str, target: UpstreamTarget) -> Any:
    """The cached boto3 client for `service` (`bedrock-runtime`, `sagemaker-runtime`) this target needs."""
    key = _client_key(service, target)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                creds = credentials_of(target)
                region, attempts = key[1], key[6]
                config = Config(
                    region_name=region,
                    connect_timeout=target.connect_timeout,
                    read_timeout=target.first_byte_timeout,
                    retries={"total_max_attempts": attempts, "mode": "standard"},
                    max_pool_connections=THREADS,
                )
                session = boto3.session.Session(**creds, region_name=region)
                client = session.client(service, endpoint_url=target.base_url or None, config=config)
                _clients[key] = client
    return client


def clear_clients() -> None:
    """Forget cached clients (tests, credential rotation)."""
    with _lock:
        _clients.clear()


async def run_blocking[T](target: UpstreamTarget, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking boto3 call on the AWS thread pool under the target's total deadline."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(target.total_timeout):
            return await loop.run_in_executor(executor(), functools.partial(fn, *args, **kwargs))
    except TimeoutError as exc:
        raise UpstreamTimeoutError(
            f"{target.provider_kind} error: the upstream exceeded the {target.total_timeout:g}s deadline",
            provider=target.provider_kind,
        ) from exc
    except GatewayError:
        raise
    except Exception as exc:
        raise aws_error(exc, target) from exc


def aws_error(exc: BaseException, target: UpstreamTarget) -> GatewayError:
    """The gateway error for a botocore failure (service error codes mapped to statuses, messages sanitized)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    provider = target.provider_kind
    kw: dict[str, Any] = {"provider": provider, "secrets": target.secrets(), "hosts": (target.host,)}
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        code = code[:1].upper() + code[1:]  # event-stream errors arrive as "throttlingException"
        message = error.get("Message") or str(exc)
        status = STATUS_OF_CODE.get(code) or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        return upstream_error_for_status(int(status), f"{code}: {message}" if code else message, **kw)
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return UpstreamTimeoutError(f"{provider} error: the upstream did not answer in time", provider=provider)
    if isinstance(exc, EndpointConnectionError):
        return UpstreamError(f"{provider} error: could not connect to the upstream", provider=provider)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return UpstreamError(
            f"{provider} error: no AWS credentials available", code="upstream_auth_failed", provider=provider
        )
    if isinstance(exc, ParamValidationError):
        return upstream_error_for_status(400, str(exc), **kw)
    if isinstance(exc, BotoCoreError):
        return upstream_error_for_status(502, str(exc), **kw)
    return upstream_error_for_status(502, f"{type(exc).__name__}: {exc}", **kw)


async def aclient_for(service: str, target: UpstreamTarget) -> Any:
    """`client_for`, but creating a new client (slow: it loads the service model) off the event loop."""
    client = _clients.get(_client_key(service, target))
    if client is not None:
        return client
    return await run_blocking(target, client_for, service, target)


async def iterate_blocking(target: UpstreamTarget, iterable: Any, deadline: float):
    """Yield from a blocking iterator (a boto3 event stream), one thread hop per item, until `deadline`."""
    loop = asyncio.get_running_loop()
    iterator = iter(iterable)
    done = object()
    pool = executor()
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                item = await loop.run_in_executor(pool, next, iterator, done)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(
                f"{target.provider_kind} error: the upstream exceeded the {target.total_timeout:g}s deadline",
                provider=target.provider_kind,
            ) from exc
        except GatewayError:
            raise
        except Exception as exc:
            raise aws_error(exc, target) from exc
        if item is done:
            return
        yield item

"""The whole stack on one machine, read from template.yaml: moto + functions + API + pollers.

    with LocalStack("template.yaml", port=0) as stack:
        requests.post(stack.api_url + "/orders", ...)
        stack.wait_idle()
        stack.boto3_client("dynamodb").scan(TableName=stack.outputs["TableName"])

`python -m fulfillment_local.stack` runs it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .api import ApiGateway, Route
from .cfn import ACCOUNT_ID, NO_VALUE, REGION, TemplateError, load_yaml
from .chaos import Chaos
from .filtering import parse_filters
from .functions import (
    Activity,
    FunctionRuntime,
    FunctionSpec,
    InvocationError,
    InvocationResult,
    package_root,
    worker_base_env,
)
from .moto_server import SerialisedMotoServer
from .resources import IMPLICIT_API, ResourceManager, ScheduledRule
from .schedules import Schedule, Scheduler, scheduled_event
from .sqs_poller import SqsPoller, SqsSource
from .stream_poller import StreamPoller, StreamSource
from .template import EventSourceDef, FunctionDef, SamTemplate
from .zygote import ForkServer, preload_default

log = logging.getLogger(__name__)

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_ASYNC_RETRIES = 2


class LocalStack:
    """Everything the template declares, running locally. Use as a context manager.

    template              path of the SAM template
    port                  HTTP API port on 127.0.0.1 (0 = ephemeral)
    concurrency           max execution environments per function (ReservedConcurrentExecutions,
                          if lower, wins; `function_concurrency` overrides per logical id)
    retry_delay_seconds   how long a failed SQS message stays invisible (whole seconds) and the
                          cap of the stream retry back-off
    chaos                 fault injection (see `Chaos`); None = off
    parameters            template parameter overrides
    state_dir             where logs/ and outputs.json go (default: <template dir>/.local)
    schedule_speedup      run schedule clocks this many times faster than real time
    schedules             False = never fire schedules on their own (use `trigger_schedule`)
    preload               workers forked from a server that imported boto3, pydantic and Powertools once
                          (`zygote`; default: FULFILLMENT_LOCAL_PRELOAD): fast cold starts for test suites,
                          not Lambda's init durations
    """

    _active_lock = threading.Lock()
    _active: LocalStack | None = None

    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        port: int = 0,
        concurrency: int = 4,
        retry_delay_seconds: float = 1.0,
        chaos: Chaos | None = None,
        parameters: dict[str, Any] | None = None,
        state_dir: str | Path | None = None,
        outputs_file: str | Path | None = None,
        schedule_speedup: float = 1.0,
        schedules: bool = True,
        function_concurrency: dict[str, int] | None = None,
        idle_poll_seconds: float = 0.1,
        moto_port: int = 0,
        stack_name: str = "local",
        preload: bool | None = None,
    ) -> None:
        self.template = SamTemplate(template, parameters)
        self.state_dir = Path(state_dir) if state_dir else self.template.dir / ".local"
        self.outputs_file = Path(outputs_file) if outputs_file else self.state_dir / "outputs.json"
        self.port = port
        self.concurrency = concurrency
        self.retry_delay_seconds = retry_delay_seconds
        self.chaos = chaos
        self.schedule_speedup = schedule_speedup
        self.schedules_enabled = schedules
        self.function_concurrency = dict(function_concurrency or {})
        self.idle_poll_seconds = idle_poll_seconds
        self.stack_name = stack_name
        self.outputs: dict[str, Any] = {}
        self.functions: dict[str, FunctionRuntime] = {}
        self.sqs_pollers: list[SqsPoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.activity = Activity()
        self._moto = SerialisedMotoServer(moto_port)
        self.preload = preload_default() if preload is None else preload
        self._fork_server: ForkServer | None = None
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._gateway: ApiGateway | None = None
        self._resources: ResourceManager | None = None
        self._scheduler: Scheduler | None = None
        self._schedules: list[Schedule] = []
        self._on_failure_queues: set[str] = set()
        self._started = False
        self._stopping = False

    def _serve_api_description(self) -> None:
        """`docs/openapi.json` beside the template, if there is one, at /openapi.json, with Swagger UI at /docs."""
        assert self._gateway is not None
        description = self.template.dir / "docs" / "openapi.json"
        if description.is_file():
            self._gateway.static["/openapi.json"] = ("application/json", description.read_bytes())
            self._gateway.static["/docs"] = ("text/html; charset=utf-8", SWAGGER_UI.encode())

    # ================================================================== lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with LocalStack._active_lock:
            if LocalStack._active is not None:
                raise RuntimeError("a LocalStack is already running in this process (moto state is global)")
            LocalStack._active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.functions, self.sqs_pollers, self.stream_pollers = {}, [], []
        self._schedules, self._on_failure_queues, self._clients = [], set(), {}
        self._moto.reset()  # moto's state is per process: start from nothing
        self._started = True
        self._moto.start()
        self._session = boto3.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        logs = self.state_dir / "logs"
        if logs.exists():
            shutil.rmtree(logs)
        logs.mkdir(parents=True, exist_ok=True)

        self._gateway = ApiGateway(self._invoke_result, port=self.port)
        self._serve_api_description()
        self._resources = ResourceManager(
            self.template, self.boto3_client, api_url=self._gateway.url, stack_name=self.stack_name
        )
        self._resources.provision()
        for fn in self.template.functions.values():
            if fn.logical_id in self._resources.active:
                self._add_function(fn)
        for fn in self.template.functions.values():
            if fn.logical_id in self.functions:
                for event in fn.events:
                    self._add_event_source(fn, event)
        for target in self._resources.function_targets:
            self._add_async_queue(target.function, target.queue_url, target.queue_arn, target.origin)
        for rule in self._resources.scheduled_rules:
            self._add_scheduled_rule(rule)
        self.outputs = self._resolve_outputs()
        self.outputs_file.parent.mkdir(parents=True, exist_ok=True)
        self.outputs_file.write_text(json.dumps(self.outputs, indent=2) + "\n", encoding="utf-8")
        # Where clients reach this stack (the command-line client reads it: python -m fulfillment_local.cli).
        endpoints = {"api_url": self._gateway.url, "endpoint_url": self.endpoint_url, "region": REGION}
        (self.outputs_file.parent / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")

        self._gateway.start()
        for poller in self.sqs_pollers:
            poller.start()
        for stream_poller in self.stream_pollers:
            stream_poller.start()
        self._scheduler = Scheduler(self._schedules, speedup=self.schedule_speedup)
        if self.schedules_enabled:
            self._scheduler.start()

    def stop(self) -> None:
        """Stop pollers, the API, the workers and moto; forget moto's state."""
        self._stopping = True
        steps: list[Any] = []
        if self._scheduler:
            steps.append(self._scheduler.stop)
        steps += [p.stop for p in self.sqs_pollers] + [p.stop for p in self.stream_pollers]
        if self._gateway:
            steps.append(self._gateway.stop)
        steps += [runtime.close for runtime in self.functions.values()]
        if self._fork_server is not None:
            steps.append(self._fork_server.stop)
        if self._started:
            steps += [self._moto.stop, self._moto.reset]
        try:
            for step in steps:
                try:
                    step()
                except Exception:  # noqa: BLE001 - stop everything else regardless
                    log.exception("stopping the stack: %r failed", step)
        finally:
            self._started = False
            self._stopping = False
            with LocalStack._active_lock:
                if LocalStack._active is self:
                    LocalStack._active = None

    # ================================================================== public API
    @property
    def api_url(self) -> str:
        assert self._gateway is not None, "start() first"
        return self._gateway.url

    @property
    def endpoint_url(self) -> str:
        return self._moto.endpoint_url

    @property
    def resources(self) -> ResourceManager:
        assert self._resources is not None, "start() first"
        return self._resources

    def env(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK/CLI at this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            **DUMMY_CREDENTIALS,
        }

    def boto3_client(self, service: str, **kwargs: Any) -> Any:
        """A client of the embedded moto server (cached per service when called without kwargs)."""
        assert self._session is not None, "start() first"
        if kwargs:
            return self._new_client(service, **kwargs)
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str, **kwargs: Any) -> Any:
        assert self._session is not None
        config = Config(max_pool_connections=64, retries={"max_attempts": 3, "mode": "standard"})
        return self._session.client(
            service, endpoint_url=self.endpoint_url, region_name=REGION, config=config, **kwargs
        )

    def physical_id(self, logical_id: str) -> Any:
        """`!Ref logical_id` as it resolved locally (queue URL, table name, secret ARN...)."""
        return self.resources.resolve({"Ref": logical_id})

    def invoke_result(self, function: str, event: Any) -> InvocationResult:
        """Invoke a function synchronously (RequestResponse); never raises for function errors."""
        return self._invoke_result(self._function_id(function), event)

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke synchronously; the handler's return value, or `InvocationError`."""
        result = self.invoke_result(function, event)
        if not result.ok:
            raise InvocationError(result)
        return result.payload

    def trigger_schedule(self, name: str) -> int:
        """Fire schedules now: `name` is a function (all its schedules), `Function.Event` or a rule."""
        fired = 0
        now = dt.datetime.now(dt.UTC)
        for schedule in self._schedules:
            if schedule.name == name or schedule.name.split(".")[0] == name:
                schedule.fire(now)
                fired += 1
        if not fired:
            raise KeyError(f"no schedule named {name!r}")
        return fired

    def wait_idle(self, timeout: float = 60.0, settle: float = 0.05) -> None:
        """Return once nothing is left to do: consumed queues empty (incl. messages waiting for a
        retry), stream shards drained, no invocation running - and it stayed so for `settle` s."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            generation = self.activity.generation
            busy = self._busy_reasons()
            if not busy:
                time.sleep(settle)
                if self.activity.generation == generation and not self._busy_reasons():
                    return
            elif time.monotonic() >= deadline:
                raise TimeoutError(f"stack not idle after {timeout:.0f} s: {', '.join(busy)}")
            else:
                # Each look asks the emulator for every queue's depth, under the lock the functions need too: a
                # long wait looks less and less often (up to 4 times a second) instead of starving them.
                time.sleep(pause)
                pause = min(pause * 1.5, 0.25)

    def busy_reasons(self) -> list[str]:
        """Why the stack is not idle right now (empty list = idle); one look, no waiting."""
        return self._busy_reasons()

    def _busy_reasons(self) -> list[str]:
        reasons = []
        if self.activity.in_flight:
            reasons.append(f"{self.activity.in_flight} deliveries/invocations in flight")
        sqs = self.boto3_client("sqs")
        for poller in self.sqs_pollers:
            attributes = sqs.get_queue_attributes(
                QueueUrl=poller.source.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depth = sum(int(v) for v in attributes.values())
            if depth:
                reasons.append(f"{depth} messages in {poller.source.queue_url.rsplit('/', 1)[-1]}")
        for stream_poller in self.stream_pollers:
            if stream_poller.pending():
                reasons.append(f"stream records pending for {stream_poller.source.function}")
        return reasons

    def stats(self) -> dict[str, Any]:
        """AWS calls by operation, per-function invocations/errors/cold starts, event sources, DLQs."""
        sqs = self.boto3_client("sqs")
        dlq_depths = {}
        for logical_id in sorted(self.resources.dead_letter_queues | self._on_failure_queues):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.physical_id(logical_id),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            dlq_depths[logical_id] = sum(int(v) for v in attributes.values())
        app = self._moto.app
        with app.lock:
            by_caller = {caller: dict(sorted(calls.items())) for caller, calls in sorted(app.by_caller.items())}
            busy = {op: round(seconds, 3) for op, seconds in sorted(app.busy_seconds.items())}
        return {
            "aws_requests": app.requests,
            "aws_calls": dict(sorted(app.by_operation.items())),
            # Access key -> operation -> calls. Functions sign with their logical id; the runtime's
            # pollers and stack.boto3_client() with "testing"; peers with whatever key they chose.
            "aws_calls_by_caller": by_caller,
            "aws_busy_seconds": busy,  # time the (serialised) emulator spent per operation
            "dynamodb_writes": app.writes.by_caller(),  # estimated write units (see capacity.py)
            "dynamodb_writes_by_item": app.writes.by_item(),
            "functions": {name: runtime.stats() for name, runtime in self.functions.items()},
            "api": self._gateway.stats() if self._gateway else {},
            "sqs_sources": {f"{p.source.function}.{p.source.name}": p.stats() for p in self.sqs_pollers},
            "stream_sources": {f"{p.source.function}.{p.source.name}": p.stats() for p in self.stream_pollers},
            "schedules": dict(self._scheduler.fired) if self._scheduler else {},
            "dlq_depths": dlq_depths,
        }

    def reset_counters(self) -> None:
        """Zero the AWS call counters and write meter (e.g. after seeding, before measuring)."""
        self._moto.app.reset_counters()

    @property
    def routes(self) -> list[Route]:
        """The HTTP API's routes (function, method, path) as the template declares them."""
        assert self._gateway is not None, "start() first"
        return list(self._gateway.router.routes)

    def has_route(self, method: str, path: str) -> bool:
        """Whether a request `method path` reaches a function (path as in the template, e.g.
        /orders/{order_id}: each {param} stands for any value, matched like the API matches it)."""
        assert self._gateway is not None, "start() first"
        segments = ["sample" if part.startswith("{") else part for part in path.split("/") if part]
        return self._gateway.router.match(method.upper(), segments) is not None

    # ================================================================== functions
    def _function_id(self, name: str) -> str:
        if name in self.functions:
            return name
        for logical_id, runtime in self.functions.items():
            if name in (runtime.spec.function_name, runtime.spec.arn):
                return logical_id
        raise KeyError(f"no function {name!r} in the template")

    def _invoke_result(self, function: str, event: Any) -> InvocationResult:
        return self.functions[function].invoke(event)

    def _add_function(self, fn: FunctionDef) -> None:
        resources = self.resources
        props = fn.properties
        runtime = str(resources.resolve(props.get("Runtime", "python3.13")))
        if not runtime.startswith("python") or props.get("PackageType", "Zip") != "Zip":
            log.warning("%s: runtime %s / package type not supported locally; skipped", fn.logical_id, runtime)
            return
        handler = str(resources.resolve(props.get("Handler", "app.lambda_handler")))
        try:
            code_dir = self._code_dir(fn, handler)
        except TemplateError as exc:
            log.warning("%s; the function is skipped", exc)
            return
        name = str(resources.resolve({"Ref": fn.logical_id}))
        arn = str(resources.resolve({"Fn::GetAtt": [fn.logical_id, "Arn"]}))
        timeout = float(resources.resolve(props.get("Timeout", 3)))
        memory = int(resources.resolve(props.get("MemorySize", 128)))
        variables = resources.resolve((props.get("Environment") or {}).get("Variables") or {})
        python_path = [str(code_dir), *self._layer_dirs(fn), package_root()]
        env = worker_base_env()
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(python_path),
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **DUMMY_CREDENTIALS,
                # One access key per function, like one execution role each: AWS calls are
                # attributed to the function that made them (stats()["aws_calls_by_caller"]).
                "AWS_ACCESS_KEY_ID": fn.logical_id,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{dt.date.today():%Y/%m/%d}/[$LATEST]local",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                "LAMBDA_TASK_ROOT": str(code_dir),
                "_HANDLER": handler,
                "_LOCAL_FUNCTION_ARN": arn,
                "AWS_SAM_LOCAL": "true",  # as `sam local` does: Powertools Tracer stays off
            }
        )
        env.update({k: _env_value(v) for k, v in variables.items()})
        reserved = props.get("ReservedConcurrentExecutions")
        max_concurrency = self.function_concurrency.get(fn.logical_id, self.concurrency)
        reserved = resources.resolve(reserved) if reserved is not None else None
        if reserved not in (None, NO_VALUE) and fn.logical_id not in self.function_concurrency:
            max_concurrency = max(1, min(max_concurrency, int(reserved)))
        spec = FunctionSpec(
            logical_id=fn.logical_id,
            function_name=name,
            arn=arn,
            code_dir=code_dir,
            handler=handler,
            timeout=timeout,
            memory_size=memory,
            env=env,
            log_path=self.state_dir / "logs" / f"{fn.logical_id}.log",
            max_concurrency=max_concurrency,
        )
        if self.preload and self._fork_server is None:
            self._fork_server = ForkServer(
                {
                    **worker_base_env(),
                    "PYTHONPATH": package_root(),
                    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                    "AWS_EXECUTION_ENV": env["AWS_EXECUTION_ENV"],
                }
            )
        self.functions[fn.logical_id] = FunctionRuntime(
            spec, activity=self.activity, chaos=self.chaos, fork_server=self._fork_server
        )

    def _code_dir(self, fn: FunctionDef, handler: str) -> Path:
        props = fn.properties
        if props.get("InlineCode") is not None:
            directory = self.state_dir / "inline" / fn.logical_id
            directory.mkdir(parents=True, exist_ok=True)
            module = handler.rpartition(".")[0].replace(".", "/")
            (directory / f"{module}.py").write_text(str(self.resources.resolve(props["InlineCode"])))
            return directory
        code_uri = self.resources.resolve(props.get("CodeUri", "."))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{fn.logical_id}: CodeUri must be a local path to run locally")
        path = (self.template.dir / code_uri).resolve()
        if not path.is_dir():
            raise TemplateError(f"{fn.logical_id}: CodeUri {code_uri} is not a directory")
        return path

    def _layer_dirs(self, fn: FunctionDef) -> list[str]:
        dirs = []
        for layer in self.resources.resolve(fn.properties.get("Layers") or []):
            for logical_id, resource in self.template.resources.items():
                if resource.get("Type") not in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
                    continue
                if self.resources.resolve({"Ref": logical_id}) != layer:
                    continue
                props = resource.get("Properties") or {}
                content = props.get("ContentUri") or (props.get("Content") or {})
                if isinstance(content, str):
                    root = (self.template.dir / content).resolve()
                    dirs.append(str(root / "python" if (root / "python").is_dir() else root))
        return dirs

    # ================================================================== event sources
    def _add_event_source(self, fn: FunctionDef, event: EventSourceDef) -> None:
        props = self.resources.resolve(event.properties)
        if props.get("Enabled") is False or str(props.get("Enabled", "true")).lower() == "false":
            return
        match event.type:
            case "Api":
                self._add_route(fn, props)
            case "SQS":
                self._add_sqs(fn, event, props)
            case "DynamoDB":
                self._add_stream(fn, event, props)
            case "Schedule" | "ScheduleV2":
                self._add_schedule(fn, event, props)
            case "EventBridgeRule" | "CloudWatchEvent":
                self._add_event_rule(fn, event, props)
            case _:
                log.warning("%s.%s: event type %s is not emulated locally", fn.logical_id, event.name, event.type)

    def _add_route(self, fn: FunctionDef, props: dict[str, Any]) -> None:
        assert self._gateway is not None
        api = props.get("RestApiId")
        api_logical = IMPLICIT_API
        for logical_id in self.resources.api_ids():
            if api is not None and self.resources.resolve({"Ref": logical_id}) == api:
                api_logical = logical_id
        stage = self.resources.api_stage(api_logical)
        method = str(props.get("Method", "ANY")).upper()
        self._gateway.router.add(
            Route(fn.logical_id, "ANY" if method == "ANY" else method, str(props["Path"]), stage, api_logical)
        )

    def _add_sqs(self, fn: FunctionDef, event: EventSourceDef, props: dict[str, Any]) -> None:
        queue_arn = str(props["Queue"])
        concurrency = self.functions[fn.logical_id].spec.max_concurrency
        scaling = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        source = SqsSource(
            function=fn.logical_id,
            name=event.name,
            queue_url=self.resources.queue_url(queue_arn),
            queue_arn=queue_arn,
            batch_size=int(props.get("BatchSize", 10)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            filters=parse_filters(props.get("FilterCriteria")),
            max_concurrency=min(concurrency, int(scaling)) if scaling else concurrency,
            fifo=queue_arn.endswith(".fifo"),
        )
        self.sqs_pollers.append(self._sqs_poller(source))

    def _sqs_poller(self, source: SqsSource) -> SqsPoller:
        return SqsPoller(
            source,
            sqs=self.boto3_client("sqs"),
            invoke=self._invoke_result,
            activity=self.activity,
            chaos=self.chaos,
            retry_delay_seconds=self.retry_delay_seconds,
            idle_poll_seconds=self.idle_poll_seconds,
            signals=self._moto.app.signals,
        )

    def _add_async_queue(self, function: str, queue_url: str, queue_arn: str, origin: str) -> None:
        if function not in self.functions:
            return
        source = SqsSource(
            function=function,
            name=origin,
            queue_url=queue_url,
            queue_arn=queue_arn,
            batch_size=1,
            max_concurrency=self.functions[function].spec.max_concurrency,
            async_invoke=True,
        )
        self.sqs_pollers.append(self._sqs_poller(source))

    def _add_stream(self, fn: FunctionDef, event: EventSourceDef, props: dict[str, Any]) -> None:
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        on_failure_url = None
        if on_failure:
            entry = self.resources.by_arn(str(on_failure))
            if entry is None or entry.type != "AWS::SQS::Queue":
                log.warning(
                    "%s.%s: OnFailure destination %s is not a local queue",
                    fn.logical_id,
                    event.name,
                    on_failure,
                )
            else:
                on_failure_url = str(entry.ref)
                self._on_failure_queues.add(entry.logical_id)
        source = StreamSource(
            function=fn.logical_id,
            function_arn=self.functions[fn.logical_id].spec.arn,
            name=event.name,
            stream_arn=str(props["Stream"]),
            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
            batch_size=int(props.get("BatchSize", 100)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            maximum_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            filters=parse_filters(props.get("FilterCriteria")),
            on_failure_queue_url=on_failure_url,
        )
        self.stream_pollers.append(
            StreamPoller(
                source,
                streams=self.boto3_client("dynamodbstreams"),
                sqs=self.boto3_client("sqs"),
                invoke=self._invoke_result,
                activity=self.activity,
                retry_delay_seconds=self.retry_delay_seconds,
                idle_poll_seconds=self.idle_poll_seconds,
            )
        )

    def _add_schedule(self, fn: FunctionDef, event: EventSourceDef, props: dict[str, Any]) -> None:
        if str(props.get("State", "ENABLED")).upper() == "DISABLED":
            return
        expression = str(props["Schedule"] if event.type == "Schedule" else props["ScheduleExpression"])
        name = str(props.get("Name") or f"{fn.logical_id}{event.name}")
        if event.type == "Schedule":
            resource_arn, source = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}", "aws.events"
        else:
            resource_arn, source = (
                f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{name}",
                "aws.scheduler",
            )
        raw_input = props.get("Input")
        function = fn.logical_id

        def fire(at: dt.datetime) -> None:
            payload = json.loads(raw_input) if isinstance(raw_input, str) else raw_input
            self._invoke_async(function, payload if payload is not None else scheduled_event(at, resource_arn, source))

        self._schedules.append(Schedule(f"{fn.logical_id}.{event.name}", expression, fire))

    def _add_event_rule(self, fn: FunctionDef, event: EventSourceDef, props: dict[str, Any]) -> None:
        events = self.boto3_client("events")
        bus = str(props.get("EventBusName") or "default").split("event-bus/")[-1]
        name = str(props.get("RuleName") or f"{fn.logical_id}{event.name}")
        pattern = props.get("Pattern") or {}
        events.put_rule(
            Name=name,
            EventBusName=bus,
            State=str(props.get("State", "ENABLED")),
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
        )
        target_id = str((props.get("Target") or {}).get("Id") or f"{fn.logical_id}Target")
        queue_arn = self.resources.internal_queue(fn.logical_id, f"{name}-{target_id}")
        target: dict[str, Any] = {"Id": target_id, "Arn": queue_arn}
        for key in ("Input", "InputPath", "InputTransformer"):
            if props.get(key) is not None:
                target[key] = props[key]
        events.put_targets(Rule=name, EventBusName=bus, Targets=[target])

    def _add_scheduled_rule(self, rule: ScheduledRule) -> None:
        sqs = self.boto3_client("sqs")

        def fire(at: dt.datetime) -> None:
            event = scheduled_event(at, rule.arn)
            for target in rule.targets:
                entry = self.resources.by_arn(str(target["Arn"]))
                url = str(entry.ref) if entry is not None else None
                if url is None:
                    for internal in self.resources.function_targets:
                        if internal.queue_arn == target["Arn"]:
                            url = internal.queue_url
                if url is None:
                    log.warning("rule %s: target %s is not emulated locally", rule.logical_id, target["Arn"])
                    continue
                body = target.get("Input") if target.get("Input") is not None else json.dumps(event)
                sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))

        self._schedules.append(Schedule(rule.logical_id, rule.expression, fire))

    def _invoke_async(self, function: str, event: Any) -> None:
        """Lambda's asynchronous invocation: retried twice, then dropped (logged)."""
        for attempt in range(_ASYNC_RETRIES + 1):
            if self._stopping:
                return  # the stack is going down: queued schedule fires are dropped quietly
            try:
                result = self._invoke_result(function, event)
            except (RuntimeError, OSError):
                if self._stopping:
                    return
                raise
            if result.ok:
                return
            if attempt < _ASYNC_RETRIES:
                time.sleep(self.retry_delay_seconds)
        log.warning("%s: async event dropped after %d attempts (%s)", function, _ASYNC_RETRIES + 1, result.error_type)

    # ================================================================== outputs
    def _resolve_outputs(self) -> dict[str, Any]:
        outputs = {}
        for name, output in self.template.outputs.items():
            condition = output.get("Condition")
            if condition and not self.resources.resolver.condition(condition):
                continue
            outputs[name] = self.resources.resolve(output.get("Value"))
        return outputs


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


# ====================================================================== CLI
def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fulfillment_local.stack",
        description="Run the template's whole stack locally (moto + functions + API + pollers).",
    )
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--port", type=int, default=3000, help="HTTP API port (0 = any free port)")
    parser.add_argument("--moto-port", type=int, default=None, help="AWS endpoint port (default: API port + 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="execution environments per function")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="seconds before a failed message returns")
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--state-dir", default=None, help="logs and outputs.json (default: .local next to template)")
    parser.add_argument("--schedule-speedup", type=float, default=1.0)
    parser.add_argument("--no-schedules", action="store_true")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chaos: probability an invocation fails")
    parser.add_argument(
        "--duplicate-sqs", type=float, default=0.0, help="chaos: probability a batch is delivered twice"
    )
    parser.add_argument("--reorder", action="store_true", help="chaos: shuffle SQS batches")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
    declared = load_yaml(Path(args.template)).get("Parameters") or {}
    if "ProviderSenders" in declared and "ProviderSenders" not in overrides:
        from .peers.base import peer_senders  # the peers' convention: access key id = provider name

        overrides["ProviderSenders"] = json.dumps(peer_senders(load_yaml(Path(args.template))))
    chaos = None
    if args.fault_rate or args.duplicate_sqs or args.reorder:
        chaos = Chaos(
            fault_rate=args.fault_rate, duplicate_sqs=args.duplicate_sqs, reorder=args.reorder, seed=args.seed
        )
    moto_port = args.moto_port if args.moto_port is not None else (args.port + 1 if args.port else 0)
    stack = LocalStack(
        args.template,
        port=args.port,
        moto_port=moto_port,
        concurrency=args.concurrency,
        retry_delay_seconds=args.retry_delay,
        chaos=chaos,
        parameters=overrides,
        state_dir=args.state_dir,
        schedule_speedup=args.schedule_speedup,
        schedules=not args.no_schedules,
    )
    with stack:
        _print_banner(stack)
        stopped = threading.Event()
        try:
            while not stopped.wait(3600):
                pass
        except KeyboardInterrupt:
            print("\nstopping...", file=sys.stderr)
    return 0


SWAGGER_UI = """<!doctype html>
<html><head><meta charset="utf-8"><title>API - local stack</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""


def _print_banner(stack: LocalStack) -> None:
    width = max((len(k) for k in stack.outputs), default=0)
    print("Outputs")
    for key, value in stack.outputs.items():
        print(f"  {key:<{width}}  {value}")
    print(f"\n(outputs written to {stack.outputs_file})")
    print(f"Function logs: {stack.state_dir / 'logs'}/<Function>.log\n")
    print(f"HTTP API:       {stack.api_url}")
    if stack._gateway is not None and "/docs" in stack._gateway.static:
        print(f"API description: {stack.api_url}/openapi.json  (Swagger UI: {stack.api_url}/docs)")
    print(f"AWS endpoint:   {stack.endpoint_url}  (region {REGION}, any credentials)")
    creds = "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"
    tables = [str(p.ref) for p in stack.resources.physical.values() if p.type == "AWS::DynamoDB::Table"]
    if tables:
        print(f"\n  {creds} aws --endpoint-url {stack.endpoint_url} dynamodb scan --table-name {tables[0]}")
    assert stack._gateway is not None
    if "NativeWebhookSecretArn" in stack.outputs:
        _print_try_it(stack)
    else:
        routes = stack._gateway.router.routes
        example = next((r for r in routes if r.method == "GET"), routes[0] if routes else None)
        if example:
            path = re.sub(r"\{[^}]+\}", "example", example.path)
            flag = "" if example.method in ("GET", "ANY") else f" -X {example.method}"
            print(f"  curl -s{flag} {stack.api_url}{path}")
    print("\nCtrl-C to stop.", flush=True)


def _print_try_it(stack: LocalStack) -> None:
    """This project's stack: its local secrets, a signed order ready to paste, and the command-line client."""
    import hashlib
    import hmac

    from .peers.base import read_secret

    sm = stack.boto3_client("secretsmanager")
    names = {"native": "NativeWebhookSecretArn", "admin": "AdminApiSecretArn", "shopify": "ShopifyWebhookSecretArn"}
    secrets = {k: read_secret(sm, stack.outputs[v]) for k, v in names.items() if v in stack.outputs}
    print("\nLocal secrets: " + ", ".join(f"{k} = {v}" for k, v in secrets.items()))
    admin = f"-H 'Authorization: Bearer {secrets.get('admin', '')}'"
    body = json.dumps(
        {
            "external_id": "by-hand-1",
            "currency": "USD",
            "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "shipping_address": {"line1": "1 Way", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "payment_status": "paid",
            "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": "19.99"}],
        },
        separators=(",", ":"),
    )
    now = int(time.time())
    mac = hmac.new(secrets.get("native", "").encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
    print("\nTry it by hand (README, 'Try it by hand'): seed the catalog and stock first, then order:")
    print(
        f"  curl -s -X PUT {stack.api_url}/catalog/SKU-1 {admin} -H 'Content-Type: application/json'"
        ' -d \'{"kind": "physical"}\''
    )
    print(
        f"  curl -s -X PUT {stack.api_url}/inventory/SKU-1/WH-EAST {admin} -H 'Content-Type: application/json'"
        " -d '{\"on_hand\": 10}'"
    )
    print("  # signed now, valid for 5 minutes (the signature covers the timestamp):")
    print(
        f"  curl -s -X POST {stack.api_url}/orders -H 'Content-Type: application/json'"
        f" -H 'X-Fulfillment-Signature: t={now},v1={mac}' -d '{body}'"
    )
    print(f"  curl -s {stack.api_url}/orders {admin}")
    print("  or, any time, with the command-line client (it signs for you):")
    print("  .venv/bin/python -m fulfillment_local.cli seed SKU-1 --units 10")
    print("  .venv/bin/python -m fulfillment_local.cli order SKU-1 --qty 2      # --channel shopify|woocommerce")
    print("  .venv/bin/python -m fulfillment_local.cli --help                   # requests, tpl, scan, show, list")


if __name__ == "__main__":
    sys.exit(main())

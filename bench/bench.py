"""Cold starts and cost per order, measured through the local runtime. Run on demand, not in CI:

    .venv/bin/python bench/bench.py [--orders 50] [--chaos] [--repeat 7] [--json out.json]

1. Import time of each handler (`python -X importtime`, the module-level work a cold start pays),
   in the function's own environment (its code dir, the layer, its env vars), next to a baseline of
   importing boto3 alone - the floor any Python Lambda that talks to AWS pays. The shared layer's size as
   `sam build` makes it for python3.13/arm64 (bench/layer.py; needs the package index).
2. A demo run of N orders; from the runtime's stats: init duration per function (interpreter start
   + handler import, like Lambda's Init Duration), AWS API calls per order by function and operation,
   and DynamoDB write calls and (estimated) write units per order.
3. CPU per record of each handler, warm: the worker's own CPU time (the emulator runs in another process),
   split into the part spent inside AWS SDK calls (building, signing, serialising, parsing) and the handler's own.
4. From those counts (bench/cost.py): the cost of one million orders at list prices, and what 1,000 orders/s
   needs (records/s, concurrency per function, table write throughput).
5. A flash sale (bench/flash.py): 500 shoppers for 300 units of one SKU, its level on one item and sharded:
   transactions, refusals and reads per reservation, and how the stock writes spread over items.

It prints counts and ratios only; nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))

from fulfillment_local.demo import DemoOptions, run_demo  # noqa: E402
from fulfillment_local.stack import LocalStack  # noqa: E402
from fulfillment_local.template import SamTemplate  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import cost  # noqa: E402
import flash  # noqa: E402
import layer  # noqa: E402

# The floor of a standard order (issue 7): one conditional write of a small item per state change, the two
# multi-item steps (reserve, ship) as transactions (2 units per item), no indexes, no history.
FLOOR = {
    "OrderIntakeFunction": ("intake", 1),
    "StockReservationFunction": ("reserve and dispatch (one transaction)", 4),
    "DispatchFunction": ("dispatch (after a hold, a backorder)", 1),
    "TrackingUpdatesFunction": ("accept, ship (a transaction), two scans, deliver", 8),
    "EventRouterFunction": ("history and events", 0),
}

_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_profile(env: dict[str, str], cwd: Path, statement: str) -> tuple[float, list[tuple[str, float]]]:
    """(ms to run the import statement, [(top-level package, cumulative ms)] heaviest first).

    `python -X importtime` prints one line per module with its cumulative import time; the
    statement's own module is the outermost line, packages are lines whose name has no dot."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    target = statement.split()[-1]
    total = 0.0
    packages: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        cumulative, name = int(match.group(2)) / 1000, match.group(4)
        if name == target:
            total = cumulative
        elif "." not in name:
            packages[name] = max(packages.get(name, 0.0), cumulative)
    return total, sorted(packages.items(), key=lambda kv: -kv[1])


def clock_driven(
    trace: Path, functions: set[str], scheduled: frozenset[str], calls: dict[str, int] | None = None
) -> Counter[str]:
    """DynamoDB calls made because time passed, not because an order moved: the scheduled timer runs (sweeps and
    timer scans, every 10 s in the demo instead of every minute), the demo operator's look at the on-hold list every
    3 s, the in-house warehouse's pick-list polls. Their number follows the run's length and the machine's speed.

    The trace goes on after the counters were read (the stack stops later), so each function's share of clock calls
    in the trace is applied to `calls`, its counted calls (the trace's own counts when not given)."""
    clock: Counter[str] = Counter()
    traced: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    if not trace.exists():
        return clock
    for line in trace.read_text().splitlines():
        call = json.loads(line)
        caller, keys = call["caller"], call["keys"]
        if caller not in functions:
            continue
        traced[caller] += 1
        kind = None
        if caller in scheduled:
            kind = "scheduled timer runs"
        elif call["op"] == "Query" and any(k.startswith("=ORDERS#STATUS#on_hold") for k in keys):
            kind = "the operator's on-hold list"
        elif call["op"] == "Query" and any(k.startswith("=SHIPMENTS#") for k in keys):
            kind = "pick-list polls"
        if kind:
            kinds.setdefault(caller, Counter())[kind] += 1
    for caller, counted in kinds.items():
        scale = (calls or {}).get(caller, traced[caller]) / traced[caller]
        for kind, n in counted.items():
            clock[kind] += round(n * scale)
    return clock


def per_record_cpu(samples: list[list[float]]) -> tuple[float, float, int] | None:
    """(ms an invocation, ms a record, largest batch seen) by least squares over (records, own CPU ms) of warm
    invocations; None when every invocation had as many records (nothing to tell the two apart)."""
    if len({int(n) for n, _ in samples}) < 2:
        return None
    xs = [float(n) for n, _ in samples]
    ys = [float(ms) for _, ms in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope, int(max(xs))


def scheduled_only(template: Path) -> frozenset[str]:
    """Functions every one of whose events is a schedule."""
    functions = SamTemplate(template).functions.values()
    return frozenset(fn.logical_id for fn in functions if fn.events and all(e.type == "Schedule" for e in fn.events))


def batch_sizes(template: Path) -> dict[str, int]:
    """The largest BatchSize of each function's SQS/stream events (API functions: 1)."""
    sizes: dict[str, int] = {}
    for fn in SamTemplate(template).functions.values():
        for event in fn.events:
            size = event.properties.get("BatchSize")
            if isinstance(size, int):
                sizes[fn.logical_id] = max(sizes.get(fn.logical_id, 1), size)
    return sizes


_TIMED_IMPORT = "import time; began = time.perf_counter(); import {module}; print(time.perf_counter() - began)"
# What the fixed frame's handlers import before any code of ours: boto3, pydantic (the contracts) and Powertools'
# logger and metrics, with its event handler (an API function) or its batch processor (a queue function).
FRAMEWORK = {
    "boto3 + pydantic + Powertools logger, metrics, event handler (an API handler's frame)": (
        "boto3, pydantic.main, aws_lambda_powertools.logging, aws_lambda_powertools.metrics,"
        " aws_lambda_powertools.event_handler"
    ),
    "boto3 + pydantic + Powertools logger, metrics, batch processor (a queue handler's frame)": (
        "boto3, pydantic.main, aws_lambda_powertools.logging, aws_lambda_powertools.metrics,"
        " aws_lambda_powertools.utilities.batch"
    ),
}


def timed_import(env: dict[str, str], cwd: Path, module: str) -> float:
    """ms a fresh interpreter spends importing `module` (its start-up, the same for every module, left out)."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1]) * 1000


def import_times(template: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Each handler's import next to `import boto3`, in its own environment: fresh processes, bytecode compiled
    (one unmeasured import first), `repeat` pairs interleaved so both see the same machine, medians compared.
    The heaviest packages come from one `python -X importtime` run (it inflates absolute times: not the ratio)."""
    out: dict[str, dict[str, Any]] = {}
    with LocalStack(template, port=0, schedules=False, state_dir=ROOT / ".local" / "bench") as stack:
        specs = {name: runtime.spec for name, runtime in stack.functions.items()}
    # Compiled explicitly: an import writes no .pyc where PYTHONDONTWRITEBYTECODE is set, and Lambda's packages
    # carry compiled bytecode (`make` installs the virtualenv's packages compiled too).
    for folder in ("layers", "functions", "local"):
        compileall.compile_dir(ROOT / folder, quiet=1, workers=0)

    def paired(env: dict[str, str], cwd: Path, modules: str) -> dict[str, Any]:
        """`modules` and `import boto3`, `repeat` interleaved pairs after one unmeasured import: the medians."""
        timed_import(env, cwd, modules)
        runs, boto_runs = [], []
        for _ in range(repeat):
            runs.append(timed_import(env, cwd, modules))
            boto_runs.append(timed_import(env, cwd, "boto3"))
        return {"handler_ms": statistics.median(runs), "boto3_ms": statistics.median(boto_runs), "heaviest": []}

    for name, spec in sorted(specs.items()):
        module = spec.handler.rsplit(".", 1)[0]
        out[name] = paired(spec.env, spec.code_dir, module)
        out[name]["heaviest"] = import_profile(spec.env, spec.code_dir, f"import {module}")[1][:6]
    spec = specs["OrderIntakeFunction"]  # any function's environment: the frame's packages are the layer's
    for label, modules in FRAMEWORK.items():
        out[label] = paired(spec.env, spec.code_dir, modules)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--repeat", type=int, default=7, help="import-time pairs per function (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--flash-shards", type=int, default=32, help="the flash sale's shards (bench/flash.py); 0 leaves it out"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--imports-only", action="store_true", help="run only the import-time section, then exit")
    args = parser.parse_args(argv)

    print(
        f"== import time of each handler vs `import boto3` (fresh processes, compiled bytecode, median of {args.repeat}"
        " interleaved pairs; heaviest packages from -X importtime)"
    )
    imports = import_times(args.template, args.repeat)
    for name, row in imports.items():
        ratio = row["handler_ms"] / row["boto3_ms"] if row["boto3_ms"] else float("nan")
        if name in FRAMEWORK:
            print(f"  the frame alone, {name}: {row['handler_ms']:.0f} ms, x{ratio:.2f}")
            continue
        heaviest = ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in row["heaviest"][:4])
        print(
            f"  {name:<26} {row['handler_ms']:7.0f} ms   boto3 alone {row['boto3_ms']:5.0f} ms   x{ratio:5.2f}"
            f"   heaviest: {heaviest}"
        )
    if args.imports_only:
        return 0

    print("\n== the shared layer as `sam build` makes it (python3.13, arm64; boto3 from the runtime)")
    try:
        layer_size = layer.build()
        print("\n".join(layer.report(layer_size)))
    except (OSError, subprocess.CalledProcessError) as exc:  # no package index reachable, say so and go on
        layer_size = None
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"  not measured: {detail.strip().splitlines()[-1] if detail.strip() else exc}")

    print(f"\n== a demo run of {args.orders} orders{' under chaos' if args.chaos else ''}")
    out = io.StringIO()
    trace = ROOT / ".local" / "bench" / "calls.jsonl"
    trace.parent.mkdir(parents=True, exist_ok=True)
    trace.unlink(missing_ok=True)
    os.environ["FULFILLMENT_LOCAL_CALL_TRACE"] = str(trace)  # the emulator's DynamoDB calls, to tell clock from orders
    result = run_demo(
        DemoOptions(
            orders=args.orders,
            chaos=args.chaos,
            seed=args.seed,
            quiet=True,
            template=args.template,
            state_dir=ROOT / ".local" / "bench",
            preload=False,  # real cold starts: init durations are part of what is measured
        ),
        out,
    )
    orders = max(sum(result.statuses.values()), 1)
    stats = result.stats
    functions = set(stats["functions"])
    print(f"  {orders} orders in {result.timings['total']:.0f} s; checks {'passed' if result.ok else 'FAILED'}")
    for name, problems in result.checks.items():
        for problem in problems[:10]:
            print(f"    FAILED {name}: {problem}")

    print("\n== init duration per function (runtime start + handler import, per cold start)")
    for name, fn in sorted(stats["functions"].items()):
        init = fn["init_ms"]
        print(
            f"  {name:<26} cold starts {fn['cold_starts']:>2}   init mean {init['mean'] or 0:6.0f} ms   "
            f"max {init['max'] or 0:6.0f} ms   invocations {fn['invocations']}"
        )

    print("\n== AWS API calls per order (calls signed by the functions)")
    by_fn: Counter[str] = Counter()
    by_op: Counter[str] = Counter()
    for caller, ops in stats["aws_calls_by_caller"].items():
        if caller in functions:
            for op, n in ops.items():
                by_fn[caller] += n
                by_op[op.rsplit(".", 1)[-1]] += n
    print(f"  total {sum(by_fn.values()) / orders:.1f} per order")
    clock = clock_driven(trace, functions, scheduled_only(args.template), dict(by_fn))
    minutes = max(result.timings["total"] / 60, 1e-9)
    print(
        f"  of which driven by the clock, not by orders: {sum(clock.values()) / orders:.1f} an order here, "
        f"{sum(clock.values()) / minutes:.0f} a minute of this run ("
        + ", ".join(f"{what} {n / orders:.1f}" for what, n in clock.most_common())
        + f"); the orders' own work: {(sum(by_fn.values()) - sum(clock.values())) / orders:.1f} an order"
    )
    for name, n in by_fn.most_common():
        ops = Counter({op.rsplit(".", 1)[-1]: c for op, c in stats["aws_calls_by_caller"][name].items()})
        print(f"  {name:<26} {n / orders:6.1f}   ({', '.join(f'{o} {c / orders:.1f}' for o, c in ops.most_common(5))})")

    print("\n== DynamoDB writes per order (write units estimated from item sizes; x2 in transactions; GSIs extra)")
    total_calls = total_units = 0
    for name, ops in sorted(stats["dynamodb_writes"].items()):
        if name not in functions:
            continue
        calls = sum(t["calls"] for t in ops.values())
        # A conditional write that fails is billed too (its item's size, x2 in a transaction).
        units = sum(t["units"] + t["index_units"] + t["failed_units"] for t in ops.values())
        gsi = sum(t["index_units"] for t in ops.values())
        failed = sum(t["failed_calls"] for t in ops.values())
        failed_units = sum(t["failed_units"] for t in ops.values())
        total_calls += calls
        total_units += units
        print(
            f"  {name:<26} {calls / orders:6.1f} write calls   {units / orders:7.1f} units (GSI {gsi / orders:.1f})"
            f"   rejected {failed} ({failed_units / orders:.1f} units)"
        )
    print(f"  {'total':<26} {total_calls / orders:6.1f} write calls   {total_units / orders:7.1f} units")

    print("\n== write units per order by kind of item (base table + GSIs, rejected writes included)")
    for name, kinds in sorted(stats.get("dynamodb_writes_by_item", {}).items()):
        if name not in functions:
            continue
        parts = sorted(kinds.items(), key=lambda kv: -(kv[1]["units"] + kv[1]["index_units"]))
        print(
            f"  {name:<26} "
            + ", ".join(
                f"{kind} {(v['units'] + v['index_units']) / orders:.1f} ({v['items'] / orders:.1f} items)"
                for kind, v in parts
            )
        )

    print("\n== write units per order by step, next to the floor (docs/data-model.md)")
    floor_total = sum(units for _, units in FLOOR.values())
    for name, (steps, units) in FLOOR.items():
        ops = stats["dynamodb_writes"].get(name, {})
        measured = sum(t["units"] + t["index_units"] + t["failed_units"] for t in ops.values()) / orders
        print(f"  {name:<26} {steps:<44} floor {units:4.0f}   measured {measured:6.1f}")
    print(f"  {'total':<26} {'':<44} floor {floor_total:4.0f}   measured {total_units / orders:6.1f}")

    sizes = batch_sizes(args.template)
    scheduled = scheduled_only(args.template)
    loads = cost.loads(stats, orders, sizes, scheduled)
    print("\n== CPU per record, warm invocations (the worker's CPU time: inside AWS SDK calls, and the handler's own)")
    for load in loads:
        own = load.cpu_ms_per_record - load.sdk_cpu_ms_per_record
        print(
            f"  {load.name:<26} {load.records:5.1f} records/order   CPU {load.cpu_ms_per_record:6.2f} ms a record = "
            f"SDK {load.sdk_cpu_ms_per_record:6.2f} + own {own:6.2f}   ({load.calls / max(load.records, 1e-9):4.1f} "
            "AWS calls a record)"
        )
    print(
        "  the handlers' own CPU split into a cost per invocation and a cost per record (least squares over the warm"
        " invocations; the demo's batches are small, so the per-invocation part weighs on the figures above):"
    )
    for name, fn in sorted(stats["functions"].items()):
        fit = per_record_cpu(fn.get("warm_samples") or [])
        if fit is None or name not in sizes or sizes[name] <= 1:
            continue
        fixed, per_record, spread = fit
        full = sizes[name]
        print(
            f"  {name:<26} {fixed:6.2f} ms an invocation + {per_record:5.2f} ms a record"
            f"   = {fixed / full + per_record:5.2f} ms a record at full batches of {full}   (batches of 1-{spread})"
        )

    events = sum(result.events.values())
    customers = result.run.peers.get("customers") if result.run is not None else None
    downloads = int(customers.outcomes["served"]) if customers is not None else 0  # each one S3 GET
    dollars = cost.cost_per_million(stats, orders, events, downloads, total_units / orders, sizes, scheduled)
    print("\n== cost of one million orders like these (list prices, us-east-1, on-demand; bench/cost.py says how)")
    for service, amount in sorted(dollars.items(), key=lambda kv: -kv[1]):
        print(f"  {service:<26} ${amount:10,.2f}")
    total = sum(dollars.values())
    print(f"  {'total':<26} ${total:10,.2f}   (${total / 1000:.3f} per 1,000 orders)")

    print("\n== capacity at 1,000 orders/s (records and concurrency per function, at full batches)")
    for line in cost.capacity(stats, orders, total_units / orders, 1000.0, sizes, scheduled):
        print(line)

    if args.flash_shards:
        print()  # its own emulator, after the demo's stack has stopped (it sets this process's AWS endpoint)
        for line in flash.flash_sale(500, 300, args.flash_shards, 10):
            print(line)

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "imports": imports,
                    "layer": None
                    if layer_size is None
                    else {"unzipped": layer_size.unzipped, "zipped": layer_size.zipped},
                    "orders": orders,
                    "timings": result.timings,
                    "functions": stats["functions"],
                    "aws_calls_by_caller": stats["aws_calls_by_caller"],
                    "dynamodb_writes": stats["dynamodb_writes"],
                    "dynamodb_writes_by_item": stats.get("dynamodb_writes_by_item"),
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load on the local stack: signed orders at a rising rate, next to the emulator's own raw write rate.

    make load                       # or: .venv/bin/python bench/load.py --locust .venv-load/bin/locust
    .venv/bin/python bench/load.py --steps 2:20,4:20,8:20,16:20

1. Starts the local stack (no schedules), seeds one SKU with plenty of stock.
2. Measures the emulator's raw rate: conditional PutItems (`attribute_not_exists`) from as many threads as the
   last step has storefronts, for a few seconds - what this machine's emulator can do at all.
3. Runs bench/locustfile.py headless (locust, in its own virtualenv): storefronts post signed native orders as
   fast as they are answered, their number rising step by step.
4. Waits until the stack is idle (every order reserved and dispatched: queues and stream drained).

Prints, per step: storefronts, orders taken a second, p50/p95 of the answers, failures; then the sustained rate
with the downstream work included (orders / (load time + drain time)) and its ratio to the raw write rate, which
makes the number comparable across machines (issue 11: >= 0.33, an order costs at most three raw writes' worth of
emulator time). Nothing here asserts; it prints counts and ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "local"))

from fulfillment_local.peers.base import read_secret  # noqa: E402
from fulfillment_local.stack import LocalStack  # noqa: E402

SKU = "LOAD-SKU"


def admin(stack: LocalStack, secret: str, method: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        stack.api_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the local stack)
        response.read()


def raw_write_rate(stack: LocalStack, threads: int, seconds: float) -> float:
    """Conditional PutItems a second the emulator serves from `threads` clients (keys nobody reads)."""
    table = stack.outputs["TableName"]
    done = [0] * threads
    stop = time.monotonic() + seconds

    def writer(n: int) -> None:
        client = stack.boto3_client("dynamodb")
        i = 0
        while time.monotonic() < stop:
            client.put_item(
                TableName=table,
                Item={"PK": {"S": f"LOADTEST#{n}"}, "SK": {"S": f"{i:09d}"}, "type": {"S": "load_test"}},
                ConditionExpression="attribute_not_exists(PK)",
            )
            i += 1
        done[n] = i

    began = time.monotonic()
    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.monotonic() - began)


def per_step(history: Path) -> list[dict[str, float]]:
    """The locust history's aggregated rows, grouped by the number of users."""
    rows = [r for r in csv.DictReader(history.open()) if r["Name"] == "Aggregated" and int(r["User Count"]) > 0]
    steps: list[dict[str, float]] = []
    previous: dict[str, str] | None = None
    for users in dict.fromkeys(int(r["User Count"]) for r in rows):
        group = [r for r in rows if int(r["User Count"]) == users]
        first = previous or group[0]
        last = group[-1]
        span = max(int(last["Timestamp"]) - int(first["Timestamp"]), 1)
        p50 = [float(r["50%"]) for r in group if r["50%"] not in ("N/A", "")]
        p95 = [float(r["95%"]) for r in group if r["95%"] not in ("N/A", "")]
        steps.append(
            {
                "users": users,
                "rate": (int(last["Total Request Count"]) - int(first["Total Request Count"])) / span,
                "p50": statistics.median(p50) if p50 else float("nan"),
                "p95": statistics.median(p95) if p95 else float("nan"),
                "failures": int(last["Total Failure Count"]) - int(first["Total Failure Count"]),
            }
        )
        previous = last
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="2:20,4:20,8:20,16:20", help="users:seconds,... (rising)")
    parser.add_argument("--locust", default=str(ROOT / ".venv-load" / "bin" / "locust"))
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    steps = [tuple(int(n) for n in s.split(":")) for s in args.steps.split(",")]

    with LocalStack(args.template, port=0, schedules=False, state_dir=ROOT / ".local" / "load") as stack:
        sm = stack.boto3_client("secretsmanager")
        admin_secret = read_secret(sm, stack.outputs["AdminApiSecretArn"])
        admin(stack, admin_secret, "PUT", f"/catalog/{SKU}", {"kind": "physical", "title": "Load test"})
        admin(stack, admin_secret, "PUT", f"/inventory/{SKU}/WH-EAST", {"on_hand": 1_000_000})
        stack.wait_idle(timeout=120)

        threads = max(users for users, _ in steps)
        raw = raw_write_rate(stack, threads, args.raw_seconds)
        print(f"== emulator raw rate: {raw:.0f} conditional PutItems/s from {threads} threads")
        stack.wait_idle(timeout=120)

        with tempfile.TemporaryDirectory(prefix="load-") as tmp:
            prefix = Path(tmp) / "run"
            env = {
                **os.environ,
                "LOAD_NATIVE_SECRET": read_secret(sm, stack.outputs["NativeWebhookSecretArn"]),
                "LOAD_SKU": SKU,
                "LOAD_STEPS": ",".join(f"{u}:{s}" for u, s in steps),
            }
            began = time.monotonic()
            subprocess.run(  # noqa: S603
                [
                    args.locust,
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--host",
                    stack.api_url,
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=env,
                check=False,
                stdout=subprocess.DEVNULL,
            )
            loaded = time.monotonic() - began
            stack.wait_idle(timeout=600)
            drained = time.monotonic() - began - loaded
            rows = per_step(Path(f"{prefix}_stats_history.csv"))
            total = next(r for r in csv.DictReader(Path(f"{prefix}_stats.csv").open()) if r["Name"] == "Aggregated")

    print("== signed native orders at a rising rate (locust; downstream: reserve and dispatch)")
    for row in rows:
        print(
            f"  {int(row['users']):>3} storefronts   {row['rate']:6.1f} orders/s taken   p50 {row['p50']:6.0f} ms"
            f"   p95 {row['p95']:6.0f} ms   failures {int(row['failures'])}"
        )
    orders = int(total["Request Count"]) - int(total["Failure Count"])
    sustained = orders / (loaded + drained)
    print(
        f"  {orders} orders taken in {loaded:.0f} s, all reserved and dispatched {drained:.0f} s later: "
        f"{sustained:.1f} orders/s sustained, downstream included; p50 {total['50%']} ms, p95 {total['95%']} ms, "
        f"{total['Failure Count']} failures"
    )
    print(f"  ratio to the emulator's raw write rate: {sustained / raw:.2f} (target >= 0.33)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The email/SMS service's end of the customer-notifications queue: it reads every event.

Bodies are EventBridge envelopes (`detail-type`, `detail.event_id`...). Delivery is at least once,
so a consumer deduplicates by `detail.event_id`; `unique()` is what it would act on.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from .base import log


class EventCollector:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="email-service", daemon=True)

    def start(self) -> EventCollector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                got = self.drain_once(wait=1)
            except Exception as exc:  # noqa: BLE001
                log.warning("event collector: %s", exc)
                got = 0
            if not got:
                self._stop.wait(0.05)

    def drain_once(self, wait: int = 0) -> int:
        batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
            "Messages", []
        )
        if not batch:
            return 0
        parsed = [json.loads(m["Body"]) for m in batch]
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
        )
        with self._lock:
            self.events += parsed
        return len(batch)

    def drain(self) -> None:
        while self.drain_once():
            pass

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def unique(self) -> list[dict[str, Any]]:
        seen: set[str] = set()
        out = []
        for event in self.snapshot():
            event_id = event.get("detail", {}).get("event_id")
            if event_id in seen:
                continue
            seen.add(event_id)
            out.append(event)
        return out

    def by_type(self, *, unique: bool = True) -> Counter[str]:
        return Counter(e.get("detail-type", "?") for e in (self.unique() if unique else self.snapshot()))

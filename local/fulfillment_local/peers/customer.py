"""Customers opening the download links DownloadReady brought them, the way browsers and people do.

Most click once or twice and get the file; some hammer the link with parallel clicks past its limit; some click
after the link expired; some links are mangled by a mail client; mail scanners look first (HEAD). One customer
whose link ran out writes in, and the operator reissues it. Every answer is checked against what the contract
promises for what the customer knows (the remaining count the event said, their own successful clicks).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .base import Scheduler, log
from .catalog import BY_SKU
from .events import EventCollector

MAX_PRESIGN_SECONDS = 300
REFUSALS = ("link_expired", "download_limit_reached", "revoked")


@dataclass
class CustomerConfig:
    click_delay: tuple[float, float] = (0.2, 1.5)
    burst_rate: float = 0.15  # parallel clicks past the limit
    tamper_rate: float = 0.08  # a mail client mangles the link
    late_rate: float = 0.4  # of links that expire within the run: clicked after expiry
    scanner_rate: float = 0.25  # a mail scanner sends HEAD first
    exact: bool = True  # no injected faults: every counted download was answered
    seed: int = 7


@dataclass
class Link:
    order_id: str
    entitlement_id: str
    sku: str
    url: str
    remaining: int  # what the event said
    expires_at: str
    served: int = 0  # 302s this customer got for this link
    # Clicks answered with a server error: a download may have been counted before the answer was lost (the
    # count is the click's one write; chaos fails invocations after their writes), so "served" may undercount.
    lost: int = 0


@dataclass
class Customers:
    events: EventCollector
    scheduler: Scheduler
    config: CustomerConfig
    reissue: Callable[[str, str], dict[str, Any]] | None = None  # the operator, when a customer writes in
    outcomes: Counter[str] = field(default_factory=Counter)  # served / refusal codes / not_found / HEAD ...
    served_by_entitlement: Counter[str] = field(default_factory=Counter)
    behaviours: Counter[str] = field(default_factory=Counter)
    anomalies: list[str] = field(default_factory=list)
    reissued: list[str] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)  # url -> link

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="customers", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Customers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def pending(self) -> int:
        """DownloadReady events received but not acted on yet."""
        return sum(1 for e in self._ready() if e["detail"]["event_id"] not in self._seen)

    def _ready(self) -> list[dict[str, Any]]:
        return [e for e in self.events.unique() if e.get("detail-type") == "DownloadReady"]

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - reported by the checks
                self._anomaly(f"customers: {exc}")

    def poll(self) -> int:
        fresh = [e for e in self._ready() if e["detail"]["event_id"] not in self._seen]
        for event in fresh:
            self._seen.add(event["detail"]["event_id"])
            for download in event["detail"]["detail"].get("downloads", []):
                self._plan(event["detail"]["order_id"], download)
        return len(fresh)

    # ------------------------------------------------------------------ what each customer does
    def _plan(self, order_id: str, download: dict[str, Any]) -> None:
        link = Link(
            order_id,
            download["entitlement_id"],
            download["sku"],
            download["url"],
            int(download["downloads_remaining"]),
            download["expires_at"],
        )
        with self._lock:
            if link.url in self.links:  # the same link again (a resend): nothing new to try
                return
            self.links[link.url] = link
            roll = self._rng.random()
            delay = self._rng.uniform(*self.config.click_delay)
            expires_in = _seconds_until(link.expires_at)
        if expires_in < 60 and roll < self.config.late_rate:
            self._do("late", expires_in + 2.0, lambda: self._late(link))
        elif roll < self.config.burst_rate:
            self._do("burst", delay, lambda: self._burst(link))
        elif roll < self.config.burst_rate + self.config.tamper_rate:
            self._do("tampered", delay, lambda: self._tampered(link))
        else:
            self._do("normal", delay, lambda: self._normal(link))

    def _do(self, behaviour: str, delay: float, action: Callable[[], None]) -> None:
        with self._lock:
            self.behaviours[behaviour] += 1
        self.scheduler.after(delay, action, f"customer.{behaviour}")

    def _normal(self, link: Link) -> None:
        if self._rng.random() < self.config.scanner_rate:
            self._head(link)
        for _ in range(1 + (self._rng.random() < 0.3)):
            if link.served < link.remaining:
                self._click(link, expect=("served",))

    def _burst(self, link: Link) -> None:
        """remaining + 3 parallel clicks: exactly `remaining` files, the rest told the limit is reached."""
        clicks = link.remaining + 3
        start = threading.Barrier(clicks)

        def one(_: int) -> str:
            start.wait()
            return self._click(link, expect=("served", "download_limit_reached"))

        with ThreadPoolExecutor(clicks) as pool:
            got = Counter(pool.map(one, range(clicks)))
        excused = any(got[code] and self._excused(link, code) for code in ("link_expired", "revoked"))
        exact = self.config.exact and not excused and not link.lost
        if got["served"] > link.remaining or (exact and got["served"] != link.remaining):
            self._anomaly(f"{link.entitlement_id}: {clicks} parallel clicks with {link.remaining} left: {dict(got)}")
        with self._lock:
            first = self.reissue is not None and not self.reissued and got["served"] > 0 and not excused
            if first:
                self.reissued.append(link.entitlement_id)
        if first:
            self._write_in(link)

    def _write_in(self, link: Link) -> None:
        """Out of downloads, the customer asks the shop; the new link works, the old one is revoked."""
        fresh = self.reissue(link.order_id, link.entitlement_id) if self.reissue else None
        if not fresh:
            return
        new = Link(
            link.order_id,
            link.entitlement_id,
            link.sku,
            fresh["url"],
            fresh["downloads_remaining"],
            fresh["expires_at"],
        )
        with self._lock:
            self.links[new.url] = new
        self._click(link, expect=("revoked",))
        self._click(new, expect=("served",))

    def _late(self, link: Link) -> None:
        self._click(link, expect=("link_expired",))

    def _tampered(self, link: Link) -> None:
        base, _, token = link.url.rpartition("/")
        mangled = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
        code = self._get(f"{base}/{mangled}", link, counted=False)
        if code != "not_found":
            self._anomaly(f"{link.entitlement_id}: a mangled link answered {code}, not 404")
        self._click(link, expect=("served",))  # the customer finds the right link in the email

    # ------------------------------------------------------------------ HTTP, as a browser does it
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _head(self, link: Link) -> None:
        for _ in range(3):  # a scanner tries again after a server error
            response = self._session().head(link.url, allow_redirects=False, timeout=60)
            if response.status_code < 500:
                break
            time.sleep(0.2)
        self._count("HEAD")
        if response.status_code >= 500:
            self._count("failed")
            return
        if response.status_code == 410:  # HEAD has no body: the link is gone for one of the contract's reasons
            if not any(self._excused(link, c) for c in ("link_expired", "revoked", "download_limit_reached")):
                self._anomaly(f"{link.entitlement_id}: HEAD answered 410 on a live link")
        elif response.status_code != 200:
            self._anomaly(f"{link.entitlement_id}: HEAD answered {response.status_code}")

    def _cancelled(self, order_id: str) -> bool:
        """Did the customer hear their order was cancelled? (Its links are revoked right after.)"""
        for _ in range(20):
            if any(
                e.get("detail-type") == "OrderCancelled" and e["detail"]["order_id"] == order_id
                for e in self.events.snapshot()
            ):
                return True
            time.sleep(0.1)
        return False

    def _excused(self, link: Link, code: str) -> bool:
        """A refusal the customer would understand: the link did expire while they got to it, or the order
        was cancelled (its links stop working)."""
        if code == "link_expired":
            return _seconds_until(link.expires_at) < 1
        if code == "download_limit_reached":
            return link.lost > 0
        return code == "revoked" and self._cancelled(link.order_id)

    def _click(self, link: Link, *, expect: tuple[str, ...]) -> str:
        code = self._get(link.url, link, counted=True)
        if code not in expect and code != "failed" and not self._excused(link, code):
            self._anomaly(f"{link.entitlement_id}: a click answered {code}, expected {' or '.join(expect)}")
        return code

    def _get(self, url: str, link: Link, *, counted: bool) -> str:
        for _ in range(3):  # a person clicks again after an error page
            response = self._session().get(url, allow_redirects=False, timeout=60)
            if response.status_code < 500:
                break
            if counted:
                with self._lock:
                    link.lost += 1
            time.sleep(0.2)
        if response.status_code >= 500:
            self._count("failed")
            return "failed"
        if response.status_code == 302:
            self._fetch(link, response)
            code = "served"
        elif response.status_code in (404, 410):
            code = response.json().get("error", {}).get("code", "?")
            if response.headers.get("Cache-Control") != "no-store":
                self._anomaly(f"{link.entitlement_id}: a {response.status_code} without Cache-Control: no-store")
        else:
            code = f"HTTP {response.status_code}"
        self._count(code)
        if code == "served" and counted:
            with self._lock:
                link.served += 1
                self.served_by_entitlement[link.entitlement_id] += 1
        return code

    def _fetch(self, link: Link, response: requests.Response) -> None:
        location = response.headers.get("Location", "")
        if response.headers.get("Cache-Control") != "no-store":
            self._anomaly(f"{link.entitlement_id}: a redirect without Cache-Control: no-store")
        expires = parse_qs(urlsplit(location).query).get("X-Amz-Expires", ["?"])[0]
        if not expires.isdigit() or int(expires) > MAX_PRESIGN_SECONDS:
            self._anomaly(f"{link.entitlement_id}: the file URL lives {expires} s")
        body = requests.get(location, timeout=60)
        product = BY_SKU.get(link.sku)
        if body.status_code != 200 or (product is not None and body.content != product.content):
            self._anomaly(f"{link.entitlement_id}: the file URL answered {body.status_code}, {len(body.content)} bytes")

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1

    def _anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)
        log.warning("customer: %s", text)

    def served_per_entitlement(self) -> dict[str, int]:
        return dict(self.served_by_entitlement)

    def refused(self) -> dict[str, int]:
        return {k: v for k, v in self.outcomes.items() if k in (*REFUSALS, "not_found")}


def _seconds_until(at: str) -> float:
    return (datetime.fromisoformat(at) - datetime.now(UTC)).total_seconds()

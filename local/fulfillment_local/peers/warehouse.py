"""The in-house warehouse (HQ): it works from the pick list and ships over the admin API.

`GET /warehouse/{location}/picklist` lists accepted shipments with what is left to pick; for each,
after a pick-and-pack delay, `POST /shipments/{id}/ship {"carrier", "tracking_number"}`, and the
parcel goes to the carrier.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from .base import HttpClient, Scheduler, expect, iso, jitter, log
from .carrier import Carrier, Parcel
from .tpl import tracking_number


class InHouseWarehouse:
    CARRIER = "USPS"

    def __init__(
        self,
        location: str,
        http: HttpClient,
        scheduler: Scheduler,
        carrier: Carrier | None,
        *,
        pick_delay: tuple[float, float] = (0.5, 2.0),
        poll_seconds: float = 1.0,
        seed: int = 7,
        ship_twice: bool = False,
    ) -> None:
        self.location = location
        self.http = http
        self.scheduler = scheduler
        self.carrier = carrier
        self.pick_delay = pick_delay
        self.poll_seconds = poll_seconds
        self.ship_twice = ship_twice  # chaos: the packing station's scanner double-submits
        self.rng = random.Random(f"{seed}:{location}")
        self.picking: set[str] = set()
        self.shipped: dict[str, str] = {}  # shipment id -> tracking number
        self.outcomes: Counter[str] = Counter()
        self.anomalies: list[str] = []
        self.supported = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"warehouse-{location}", daemon=True)

    def start(self) -> InHouseWarehouse:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def pending(self) -> int:
        with self._lock:
            return len(self.picking)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001
                log.warning("warehouse %s: %s", self.location, exc)

    def poll_once(self) -> int:
        response = self.http.get(f"/warehouse/{self.location}/picklist")
        if response.status in (403, 404) and not isinstance(response.body, dict):
            self.supported = False
            return 0
        shipments = expect(response, 200, what="GET picklist").body.get("shipments", [])
        started = 0
        for shipment in shipments:
            shipment_id = shipment["shipment_id"]
            with self._lock:
                if shipment_id in self.picking or shipment_id in self.shipped:
                    continue
                self.picking.add(shipment_id)
            started += 1
            self.scheduler.after(
                jitter(self.rng, *self.pick_delay), lambda s=shipment_id: self._ship(s), "warehouse.ship"
            )
        return started

    def _ship(self, shipment_id: str) -> None:
        number = tracking_number(self.CARRIER, f"{shipment_id}:hq")
        body = {"carrier": self.CARRIER, "tracking_number": number}
        try:
            response = self.http.post(f"/shipments/{shipment_id}/ship", body=body)
            if response.status == 409 and (response.body.get("error") or {}).get("code") == "order_cancelled":
                # The order was cancelled before the parcel left: the backend refuses the ship (the cancel won the
                # race), so the picker puts the goods back and no parcel goes to the carrier.
                with self._lock:
                    self.outcomes["cancelled before it left: goods back on the shelf"] += 1
                return
            if self.ship_twice:
                again = self.http.post(f"/shipments/{shipment_id}/ship", body=body)
                if again.status != 200:
                    self.anomalies.append(f"repeated ship of {shipment_id}: HTTP {again.status}")
            expect(response, 200, what=f"POST /shipments/{shipment_id}/ship")
            with self._lock:
                self.shipped[shipment_id] = number
                self.outcomes[str(response.body.get("outcome", "shipped"))] += 1
        finally:
            with self._lock:
                self.picking.discard(shipment_id)
        if self.carrier is not None:
            self.carrier.ship(
                Parcel(
                    carrier=self.CARRIER,
                    tracking_number=number,
                    shipment_id=shipment_id,
                    shipped_at=iso(),
                    via="in-house",
                )
            )

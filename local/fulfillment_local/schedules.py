"""Schedules: `rate(...)` and `cron(...)` expressions on a clock that can run faster than real time.

With `speedup=60`, `rate(1 minute)` fires every second and `cron(0 * * * ? *)` every minute.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cfn import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class ScheduleError(ValueError):
    pass


@dataclass
class Schedule:
    """Something to fire on an expression: `fire(event_time)` does the delivery."""

    name: str
    expression: str
    fire: Callable[[dt.datetime], None]
    next_at: float = field(default=0.0)


def scheduled_event(time_: dt.datetime, resource_arn: str, source: str = "aws.events") -> dict[str, Any]:
    """The payload EventBridge sends for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT_ID,
        "time": time_.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [resource_arn],
        "detail": {},
    }


class Expression:
    """A parsed schedule expression; `next_after(t)` is the next firing time (epoch seconds)."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        rate = re.fullmatch(r"rate\(\s*(\d+)\s+(\w+)\s*\)", self.text)
        cron = re.fullmatch(r"cron\((.*)\)", self.text)
        if rate:
            value, unit = int(rate.group(1)), rate.group(2).lower()
            if unit not in _UNITS or value <= 0:
                raise ScheduleError(f"bad rate expression {text!r}")
            self.period: float | None = value * _UNITS[unit]
        elif cron:
            self.period = None
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise ScheduleError(f"cron needs 6 fields (min hour day month weekday year): {text!r}")
            self._minute = _parse(fields[0], 0, 59)
            self._hour = _parse(fields[1], 0, 23)
            self._dom_text, self._dow_text = fields[2].upper(), fields[4].upper()
            self._dom = None if self._dom_text in ("?", "L") else _parse(fields[2], 1, 31)
            self._month = _parse(fields[3], 1, 12, _MONTHS)
            self._dow = None if self._dow_text == "?" or "#" in self._dow_text else _parse(fields[4], 1, 7, _DAYS)
            self._year = _parse(fields[5], 1970, 2199)
        else:
            raise ScheduleError(f"not a schedule expression: {text!r}")

    def next_after(self, after: float, start: float) -> float:
        if self.period is not None:
            elapsed = max(0.0, after - start)
            return start + (int(elapsed // self.period) + 1) * self.period
        t = dt.datetime.fromtimestamp(after, dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)
        while t < limit:
            if t.year not in self._year or t.month not in self._month:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self._hour:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self._minute:
                t += dt.timedelta(minutes=1)
                continue
            return t.timestamp()
        raise ScheduleError(f"{self.text} never fires")

    def _day_matches(self, t: dt.datetime) -> bool:
        weekday = (t.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        if self._dom_text == "L":
            return t.day == calendar.monthrange(t.year, t.month)[1]
        if "#" in self._dow_text:
            day, nth = self._dow_text.split("#")
            wanted = _DAYS.get(day) or int(day)
            return weekday == wanted and (t.day - 1) // 7 + 1 == int(nth)
        if self._dom is not None:
            return t.day in self._dom
        return self._dow is None or weekday in self._dow


def _parse(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        step, stepped = 1, "/" in part
        if stepped:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-")
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if stepped else start
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    try:
        return int(text)
    except ValueError as exc:
        raise ScheduleError(f"unsupported cron token {text!r}") from exc


class Scheduler:
    """Fires schedules on a virtual clock running `speedup` times faster than real time."""

    def __init__(self, schedules: list[Schedule], *, speedup: float = 1.0) -> None:
        self.schedules = schedules
        self.speedup = speedup
        self._expressions = {s.name: Expression(s.expression) for s in schedules}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scheduler")
        self._real_start = time.monotonic()
        self._virtual_start = time.time()
        self.fired: dict[str, int] = {s.name: 0 for s in schedules}

    def now(self) -> float:
        """The virtual clock (epoch seconds)."""
        return self._virtual_start + (time.monotonic() - self._real_start) * self.speedup

    def start(self) -> None:
        if not self.schedules:
            return
        for schedule in self.schedules:
            schedule.next_at = self._expressions[schedule.name].next_after(self.now(), self._virtual_start)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.now()
            due = [s for s in self.schedules if s.next_at <= now]
            for schedule in due:
                fire_at = schedule.next_at
                schedule.next_at = self._expressions[schedule.name].next_after(now, self._virtual_start)
                self.fired[schedule.name] += 1
                threading.Thread(
                    target=self._fire, args=(schedule, fire_at), daemon=True, name=f"fire-{schedule.name}"
                ).start()
            wake = min(s.next_at for s in self.schedules)
            self._stop.wait(max(0.01, min(1.0, (wake - self.now()) / self.speedup)))

    @staticmethod
    def _fire(schedule: Schedule, at: float) -> None:
        try:
            schedule.fire(dt.datetime.fromtimestamp(at, dt.UTC))
        except Exception:  # noqa: BLE001 - one failing schedule must not stop the others
            log.exception("schedule %s failed", schedule.name)

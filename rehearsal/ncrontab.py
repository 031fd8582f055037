"""Six-field NCRONTAB schedules, as the Functions timer trigger reads them, for `serve`.

`{second} {minute} {hour} {day} {month} {day-of-week}`: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`,
comma lists, month (JAN-DEC) and day (SUN-SAT) names; day-of-week 0-6 with 0 Sunday. Day of
month and day of week must both match, as in NCrontab. Also the App Service plan's TimeSpan
form `hh:mm:ss` (every interval, from the start). Times are UTC (WEBSITE_TIME_ZONE unset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = {m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                          "NOV", "DEC"))}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_TIMESPAN = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")
_Field = tuple[str, int, int, dict[str, int]]  # (name, low, high, names)
_FIELDS: tuple[_Field, ...] = (("second", 0, 59, {}), ("minute", 0, 59, {}), ("hour", 0, 23, {}),
                               ("day", 1, 31, {}), ("month", 1, 12, _MONTHS), ("day-of-week", 0, 6, _DAYS))
_SEARCH_DAYS = 366 * 5


class ScheduleError(ValueError):
    pass


def _value(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise ScheduleError(f"{field}: {text!r} is not in {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int], field: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first, last = _value(a, low, high, names, field), _value(b, low, high, names, field)
            if first > last:
                raise ScheduleError(f"{field}: range {span!r} runs backwards")
        else:
            first = _value(span, low, high, names, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    text: str
    fields: tuple[frozenset[int], ...] = ()
    interval: timedelta | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        text = text.strip()
        span = _TIMESPAN.match(text)
        if span:
            hours, minutes, seconds = (int(g) for g in span.groups())
            interval = timedelta(hours=hours, minutes=minutes, seconds=seconds)
            if interval <= timedelta(0) or minutes > 59 or seconds > 59:
                raise ScheduleError(f"{text!r}: not a positive hh:mm:ss interval")
            return cls(text, interval=interval)
        parts = text.split()
        if len(parts) != 6:
            raise ScheduleError(f"{text!r}: NCRONTAB needs six fields (second minute hour day month day-of-week)")
        return cls(text, tuple(_field(p, low, high, names, name)
                               for p, (name, low, high, names) in zip(parts, _FIELDS, strict=True)))

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same tzinfo)."""
        if self.interval is not None:
            return moment + self.interval
        seconds, minutes, hours, days, months, weekdays = self.fields
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        for _ in range(_SEARCH_DAYS):
            weekday = (day.weekday() + 1) % 7  # Python: Monday 0; NCRONTAB: Sunday 0
            if day.month in months and day.day in days and weekday in weekdays:
                for hour in sorted(hours):
                    for minute in sorted(minutes):
                        for second in sorted(seconds):
                            candidate = day.replace(hour=hour, minute=minute, second=second)
                            if candidate >= start:
                                return candidate
            day += timedelta(days=1)
        raise ScheduleError(f"{self.text!r} never occurs")

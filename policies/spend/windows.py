"""Calendar windows in UTC: where each one starts and ends (pure functions, no Django).

monthly: the 1st, 00:00 UTC; weekly: Monday 00:00 UTC; daily: 00:00 UTC; hourly: the hour.
A counter's key carries its window start, so a new window starts from zero by construction:
no reset job has to run at the boundary.
"""

from __future__ import annotations

import datetime as dt

WINDOWS = ("monthly", "weekly", "daily", "hourly")
UTC = dt.UTC


def window_start(window: str, now: dt.datetime) -> dt.datetime:
    """The start of the `window` containing `now` (an aware datetime), in UTC."""
    now = now.astimezone(UTC)
    if window == "hourly":
        return now.replace(minute=0, second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "daily":
        return day
    if window == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if window == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown spend window {window!r} (one of {', '.join(WINDOWS)})")


def window_end(window: str, start: dt.datetime) -> dt.datetime:
    """The exclusive end of the window that starts at `start`."""
    if window == "hourly":
        return start + dt.timedelta(hours=1)
    if window == "daily":
        return start + dt.timedelta(days=1)
    if window == "weekly":
        return start + dt.timedelta(days=7)
    if window == "monthly":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    raise ValueError(f"unknown spend window {window!r} (one of {', '.join(WINDOWS)})")

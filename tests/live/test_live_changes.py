"""Changes made by another process apply to every call that starts 100 ms after the commit, in
every gateway worker and every mode, while clients keep calling (devtools/live_changes.py;
`python bench/live_changes.py` prints the same figures, and also with the admin on another
host, where only PostgreSQL or Redis carry the change)."""

from __future__ import annotations

import os

import pytest

from devtools.live_changes import Mode, installation, report, run_changes


def _modes() -> list[object]:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    return [
        pytest.param(Mode("sqlite"), id="sqlite"),
        pytest.param(
            Mode("postgres", database_url=database_url), id="postgres", marks=pytest.mark.postgres
        ),
        pytest.param(
            Mode("postgres+redis", database_url=database_url, redis_url=redis_url),
            id="postgres+redis",
            marks=[pytest.mark.postgres, pytest.mark.redis],
        ),
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("mode", _modes())
def test_every_change_applies_in_every_worker_within_100_ms_of_its_commit(mode: Mode) -> None:
    with installation(mode) as inst:
        results = run_changes(inst, clients=8)
    print(report(mode, results))
    for result in results:
        assert result.command_ok, f"{result.change}: {result.command_error}"
        assert not result.other, f"{result.change}: {[c.detail for c in result.other[:3]]}"
        assert not result.late, f"{result.change}: served under the old configuration"
        assert any(c.verdict == "new" for c in result.calls), result.change
        assert result.runs_stored == result.runs_expected, f"{result.change}: runs lost"

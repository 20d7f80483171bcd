"""Do changes reach every gateway process while it serves? Prints the worst lag per change.

    python bench/live_changes.py [--modes sqlite,postgres,postgres+redis] [--clients 8]

Per mode: a fresh database, the fake provider and gunicorn with 2 uvicorn workers on loopback;
per change (redaction on, a $0.000001 daily cap, the key revoked, the gateway disabled, a role
losing gateway:invoke, the provider secret replaced) 8 clients call back to back while a
separate process makes the change with its management command. Printed per change: whether the
command succeeded at the first try, how many calls were served under the old configuration
after the commit, how many of those started more than 100 ms after it (target: 0), calls
answered neither way (target: 0), and the worst lag: the start of the latest old-configuration
call, in ms after the commit (negative: none started after the commit).

PostgreSQL modes need DATABASE_URL (a server where databases can be created, e.g.
postgres://postgres@127.0.0.1:5432/postgres); the Redis mode needs REDIS_URL.
See devtools/live_changes.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.live_changes import Mode, installation, report, run_changes  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--modes",
        default="sqlite,postgres,postgres+redis,postgres@elsewhere,postgres+redis@elsewhere",
        help="@elsewhere: the admin as if on another host (no shared signal file)",
    )
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    modes = {
        "sqlite": Mode("sqlite"),
        "postgres": Mode("postgres", database_url=database_url),
        "postgres+redis": Mode("postgres+redis", database_url=database_url, redis_url=redis_url),
    }
    failed = False
    for name in args.modes.split(","):
        base, _, where = name.partition("@")
        mode = Mode(**{**modes[base].__dict__, "admin_elsewhere": where == "elsewhere"})
        with installation(mode) as inst:
            results = run_changes(inst, clients=args.clients)
        print(report(mode, results), flush=True)
        print(flush=True)
        failed = failed or any(r.late or not r.command_ok or r.other for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

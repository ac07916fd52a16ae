"""`callrt db init` / `callrt db seed-demo`: create the schema (Alembic `upgrade head`) and a demo business.

The database is `--db URL`, else `$CALLRT_DB_URL`, else `sqlite:///callrt.db`.
"""

from __future__ import annotations

import argparse
import os
import sys

from store import Store, StoreError, ensure_demo_business

DEFAULT_DB_URL = "sqlite:///callrt.db"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database schema and demo data")
    db.add_argument(
        "--db", dest="db_url", default=None, help=f"database URL (default $CALLRT_DB_URL or {DEFAULT_DB_URL})"
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("init", help="create or upgrade the schema (alembic upgrade head)").set_defaults(handler=init)
    actions.add_parser("seed-demo", help="create the demo business (once) and print its id").set_defaults(
        handler=seed_demo
    )


def _open(args: argparse.Namespace) -> Store:
    store = Store(args.db_url or os.environ.get("CALLRT_DB_URL", DEFAULT_DB_URL))
    store.init_schema()
    return store


def init(args: argparse.Namespace) -> int:
    try:
        store = _open(args)
    except StoreError as exc:
        print(f"callrt db init: {exc}", file=sys.stderr)
        return 1
    store.dispose()
    print("schema is up to date")
    return 0


def seed_demo(args: argparse.Namespace) -> int:
    try:
        store = _open(args)
        business_id = ensure_demo_business(store)
    except StoreError as exc:
        print(f"callrt db seed-demo: {exc}", file=sys.stderr)
        return 1
    store.dispose()
    print(business_id)
    return 0

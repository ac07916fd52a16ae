"""`callrt db init` / `seed-demo` / `callbacks`: the schema (Alembic `upgrade head`), a demo business,
and the callback requests a business owes its callers.

The database is `--db URL`, else `$CALLRT_DB_URL`, else `sqlite:///callrt.db`; on PostgreSQL, callrt's
tables go in `--schema NAME`, else `$CALLRT_DB_SCHEMA`, else the connection's default schema.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from store import Store, StoreError, ensure_demo_business

DEFAULT_DB_URL = "sqlite:///callrt.db"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database schema and demo data")
    db.add_argument(
        "--db", dest="db_url", default=None, help=f"database URL (default $CALLRT_DB_URL or {DEFAULT_DB_URL})"
    )
    db.add_argument(
        "--schema",
        dest="db_schema",
        default=os.environ.get("CALLRT_DB_SCHEMA") or None,
        help="PostgreSQL schema for callrt's tables (default $CALLRT_DB_SCHEMA; none: the default schema)",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("init", help="create or upgrade the schema (alembic upgrade head)").set_defaults(handler=init)
    actions.add_parser("seed-demo", help="create the demo business (once) and print its id").set_defaults(
        handler=seed_demo
    )
    callbacks = actions.add_parser("callbacks", help="list open callback requests (or mark one done)")
    callbacks.add_argument("--business", type=int, metavar="ID", help="only this business's requests")
    callbacks.add_argument("--all", action="store_true", help="include requests already done")
    callbacks.add_argument("--done", type=int, metavar="ID", help="mark this request done instead of listing")
    callbacks.set_defaults(handler=list_callbacks)


def open_store(args: argparse.Namespace) -> Store:
    """The store of `--db`/$CALLRT_DB_URL, in `--schema`/$CALLRT_DB_SCHEMA (commands without `--schema`
    read the variable), its schema brought up to date."""
    schema = getattr(args, "db_schema", None) or os.environ.get("CALLRT_DB_SCHEMA") or None
    store = Store(args.db_url or os.environ.get("CALLRT_DB_URL", DEFAULT_DB_URL), schema=schema)
    store.init_schema()
    return store


def init(args: argparse.Namespace) -> int:
    try:
        store = open_store(args)
    except StoreError as exc:
        print(f"callrt db init: {exc}", file=sys.stderr)
        return 1
    store.dispose()
    print("schema is up to date")
    return 0


def seed_demo(args: argparse.Namespace) -> int:
    try:
        store = open_store(args)
        business_id = ensure_demo_business(store)
    except StoreError as exc:
        print(f"callrt db seed-demo: {exc}", file=sys.stderr)
        return 1
    store.dispose()
    print(business_id)
    return 0


def list_callbacks(args: argparse.Namespace) -> int:
    """One line per request, newest first: id, time, business, status, phone, name, reason, what was asked."""
    try:
        store = open_store(args)
    except StoreError as exc:
        print(f"callrt db callbacks: {exc}", file=sys.stderr)
        return 1
    try:
        if args.done is not None:
            if not store.mark_callback_done(args.done, business_id=args.business):
                print(f"callrt db callbacks: no open callback request {args.done}", file=sys.stderr)
                return 1
            print(f"callback request {args.done} done")
            return 0
        requests = store.callback_requests(args.business, open_only=not args.all)
    except StoreError as exc:
        print(f"callrt db callbacks: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    for request in requests:
        status = "done" if request.done_at else "open"
        print(
            f"{request.id}\t{request.created_at:%Y-%m-%d %H:%M}Z\tbusiness {request.business_id}\t{status}\t"
            f"{request.phone or 'number withheld'}\t{request.name or '-'}\t{request.reason}\t"
            f"{json.dumps(request.request, ensure_ascii=False)}"
        )
    if not requests:
        print("no callback requests")
    return 0

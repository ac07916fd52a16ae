"""`callrt business list | show ID | create --name … | set ID … | voice-line …`: the businesses a server answers for.

The same rules as the console (store.settings): a bad value is one line on stderr naming the field,
exit status 1, and nothing saved. An hours file is JSON: an object weekday → ranges (`"sun":
[["09:00", "19:00"]]`), or `{"opening_hours": {...}, "special_days": {"2026-12-25": []}}`.

`voice-line upload ID --line handoff|goodbye --language he|en FILE` stores the business's own recording
of one of the runtime's lines (WAV 8 kHz mono, mu-law or 16-bit PCM, or raw `.ulaw`; docs/audio.md);
`voice-line remove` forgets it (or, with `--source model`, the model's audio of it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from callrt.cli.db import DB_ENVIRONMENT, open_store
from callrt.cli.errors import EXIT_FAILURE, CliError
from callrt.cli.options import DEFAULT_DB_URL, add_db_option, describe
from callrt.telephony.recording import read_recording
from store import ISRAELI_HOURS, Store
from store.hours import parse_special_days
from store.settings import LANGUAGES
from store.voice_lines import LINES, SOURCES

DEFAULT_DB_HELP = f"$CALLRT_DB_URL or {DEFAULT_DB_URL}"


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="the business's name")
    parser.add_argument("--greeting-name", help="what the assistant calls the business on the phone")
    parser.add_argument("--timezone", help="IANA time zone, e.g. Asia/Jerusalem")
    parser.add_argument("--language", choices=("he", "en"), help="the calls' language")
    parser.add_argument("--hours-file", type=Path, metavar="F.json", help="opening hours (and special dates)")
    parser.add_argument("--slot-min", dest="slot_size_min", type=int, metavar="N", help="slot size in minutes")
    parser.add_argument("--min-notice-min", dest="min_notice_min", type=int, metavar="N", help="minimum notice")
    parser.add_argument("--horizon-days", dest="horizon_days", type=int, metavar="N", help="booking horizon")
    parser.add_argument("--capacity", type=int, metavar="N", help="appointments per slot")
    parser.add_argument(
        "--phone", dest="phones", action="append", metavar="E164", help="a Twilio number reaching it (repeatable)"
    )
    parser.add_argument(
        "--closed-date", action="append", default=[], metavar="YYYY-MM-DD", help="close on this date (repeatable)"
    )
    parser.add_argument(
        "--special-date",
        action="append",
        default=[],
        metavar="YYYY-MM-DD=HH:MM-HH:MM[,…]",
        help="special hours on this date (repeatable)",
    )
    parser.add_argument(
        "--regular-date", action="append", default=[], metavar="YYYY-MM-DD", help="drop a date's special hours"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    business = describe(subparsers, "business", "list, show, create and change businesses", __doc__, DB_ENVIRONMENT)
    add_db_option(business, DEFAULT_DB_HELP)
    actions = business.add_subparsers(dest="business_command", required=True, metavar="ACTION")
    listing = describe(actions, "list", "one line per business", None, DB_ENVIRONMENT)
    listing.set_defaults(handler=list_businesses)
    show = describe(actions, "show", "a business's settings as JSON", None, DB_ENVIRONMENT)
    show.add_argument("business_id", type=int, metavar="ID")
    show.set_defaults(handler=show_business)
    create = describe(
        actions, "create", "create a business (default hours: Sun-Thu 9-19, Fri 8-13)", __doc__, DB_ENVIRONMENT
    )
    _settings_options(create)
    create.set_defaults(handler=create_business)
    change = describe(actions, "set", "change a business's settings (all or nothing)", __doc__, DB_ENVIRONMENT)
    change.add_argument("business_id", type=int, metavar="ID")
    _settings_options(change)
    change.add_argument("--realtime-model", metavar="MODEL", help="its calls' Realtime model ('' for the server's)")
    change.add_argument(
        "--transcription-model", metavar="MODEL", help="the model transcribing its callers ('' for the server's)"
    )
    change.set_defaults(handler=set_business)
    for action in (listing, show, create, change):
        add_db_option(action, DEFAULT_DB_HELP, repeated=True)
    _voice_line_actions(actions)


def _voice_line_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    voice_line = describe(
        actions, "voice-line", "the business's recordings of the runtime's own lines", __doc__, DB_ENVIRONMENT
    )
    voice_actions = voice_line.add_subparsers(dest="voice_line_command", required=True, metavar="ACTION")
    upload = describe(voice_actions, "upload", "store a recording (WAV 8 kHz mono, or raw .ulaw)", None, DB_ENVIRONMENT)
    remove = describe(
        voice_actions, "remove", "forget a line's recording (or the model's audio of it)", None, DB_ENVIRONMENT
    )
    for parser in (upload, remove):
        add_db_option(parser, DEFAULT_DB_HELP, repeated=True)
        parser.add_argument("business_id", type=int, metavar="ID")
        parser.add_argument("--line", required=True, choices=LINES, help="which of the runtime's lines")
        parser.add_argument("--language", required=True, choices=LANGUAGES, help="the line's language")
    upload.add_argument("file", type=Path, metavar="FILE", help="FILE.wav (mu-law or PCM16, 8 kHz mono) or FILE.ulaw")
    upload.set_defaults(handler=upload_voice_line)
    remove.add_argument("--source", choices=SOURCES, default="uploaded", help="whose audio (default: uploaded)")
    remove.set_defaults(handler=remove_voice_line)


def _changes(args: argparse.Namespace, current_special: object) -> dict[str, Any]:
    changes: dict[str, Any] = {
        field: getattr(args, field)
        for field in (
            "name",
            "greeting_name",
            "timezone",
            "language",
            "slot_size_min",
            "min_notice_min",
            "horizon_days",
            "capacity",
            "phones",
        )
        if getattr(args, field) is not None
    }
    special: dict[str, Any] | None = None
    if args.hours_file is not None:
        loaded = json.loads(args.hours_file.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and "opening_hours" in loaded:
            changes["opening_hours"] = loaded["opening_hours"]
            if "special_days" in loaded:
                special = dict(loaded["special_days"] or {})
        else:
            changes["opening_hours"] = loaded
    if args.closed_date or args.special_date or args.regular_date:
        special = dict(parse_special_days(current_special)) if special is None else special
        for day in args.closed_date:
            special[day] = []
        for entry in args.special_date:
            day, _, ranges = entry.partition("=")
            special[day] = [part for part in ranges.split(",") if part.strip()]
        for day in args.regular_date:
            special.pop(day, None)
    if special is not None:
        changes["special_days"] = special
    return changes


def _run(args: argparse.Namespace, work: Any) -> int:
    store = open_store(args)
    try:
        result: int = work(store)
        return result
    except (ValueError, OSError) as exc:  # InvalidSettings and InvalidHours are ValueErrors; the hours file
        raise CliError(str(exc), status=EXIT_FAILURE) from exc
    finally:
        store.dispose()


def list_businesses(args: argparse.Namespace) -> int:
    def work(store: Store) -> int:
        businesses = store.list_businesses()
        for business in businesses:
            problem = store.settings_problem(business.id)
            print(
                f"{business.id}\t{business.name}\t{business.language}\t{business.timezone}\t"
                f"{' '.join(business.phones) or 'no number'}" + (f"\tINVALID: {problem}" if problem else "")
            )
        if not businesses:
            print("no businesses: create one with `callrt business create --name NAME`")
        return 0

    return _run(args, work)


def show_business(args: argparse.Namespace) -> int:
    def work(store: Store) -> int:
        stored = store.stored_settings(args.business_id)
        stored["problem"] = store.settings_problem(args.business_id)
        print(json.dumps({"id": args.business_id, **stored}, ensure_ascii=False, indent=2))
        return 0

    return _run(args, work)


def create_business(args: argparse.Namespace) -> int:
    if not args.name:
        raise CliError("--name is required")

    def work(store: Store) -> int:
        changes = _changes(args, None)
        changes.setdefault("opening_hours", ISRAELI_HOURS)
        business_id = store.create_business(**changes)
        print(business_id)
        return 0

    return _run(args, work)


def set_business(args: argparse.Namespace) -> int:
    def work(store: Store) -> int:
        current = store.stored_settings(args.business_id)
        changes = _changes(args, current["special_days"])
        changes.update(
            {
                field: getattr(args, field)
                for field in ("realtime_model", "transcription_model")
                if getattr(args, field) is not None
            }
        )
        if not changes:
            raise CliError("nothing to change (see --help)")
        store.update_business(args.business_id, **changes)
        print(f"business {args.business_id} updated: {', '.join(sorted(changes))}")
        return 0

    return _run(args, work)


def upload_voice_line(args: argparse.Namespace) -> int:
    def work(store: Store) -> int:
        audio = read_recording(args.file)
        store.upload_voice_line(args.business_id, args.line, args.language, audio)
        print(f"business {args.business_id}: {args.line} ({args.language}) recorded, {len(audio) / 8000:.1f} s")
        return 0

    return _run(args, work)


def remove_voice_line(args: argparse.Namespace) -> int:
    def work(store: Store) -> int:
        removed = store.remove_voice_line(args.business_id, args.line, args.language, args.source)
        print(f"business {args.business_id}: {args.line} ({args.language}, {args.source}): {removed} removed")
        return 0

    return _run(args, work)

"""The business console: the owner's web pages inside `callrt serve`, under `/admin/` (docs/console.md).

Log in, edit opening hours and booking rules, see bookings, calls and callback requests. Pages are
rendered on the server (Jinja2) with the CSS and JS of this package; every database call runs in a
worker thread, never on the event loop that carries the calls.
"""

from callrt.console.app import Console

__all__ = ["Console"]

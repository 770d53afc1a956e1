"""Where a push may go. A channel's URL names a server the task worker
connects to, so without limits anyone with an account could make the server
call this machine or its network (a cloud's metadata service, an admin page
on the LAN) and learn from the profile page whether it answered.

- Only the push services in PUSH_SERVICES: no generic HTTP plugins (Apprise's
  `json://`, `xml://` and `form://` take a method and headers of the URL's
  choosing), no email, nothing that notifies this machine itself.
- Only public addresses: private, loopback, link-local, multicast, reserved
  and unspecified ones are refused, IPv4 and IPv6, whichever of a name's
  addresses it is. Checked when a channel is saved, for the services whose
  URL names their server; and on every lookup while a push is sent
  (`public_lookups_only`), so that neither a name that points elsewhere by
  then nor a redirect reaches such an address.
- OMBUD_PUSH_ALLOW_PRIVATE lets private and loopback addresses through, for a
  self-hosted ntfy on the LAN; link-local (where clouds keep their metadata
  service), multicast, reserved and unspecified addresses stay refused."""

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator

from django.conf import settings

# Scheme -> service. Each is a push service with an app on the phone. The
# first group has a fixed server (the URL's "host" is a token or an id); the
# second names its server in the URL, so it is looked up when it is saved.
PUSH_SERVICES_FIXED = {
    "tgram": "Telegram",
    "pover": "Pushover",
    "discord": "Discord",
    "slack": "Slack",
    "twilio": "Twilio (SMS)",
}
PUSH_SERVICES_OWN_SERVER = {
    "ntfy": "ntfy",
    "ntfys": "ntfy",
    "gotify": "Gotify",
    "gotifys": "Gotify",
    "matrix": "Matrix",
    "matrixs": "Matrix",
    "signal": "Signal (signal-cli REST API)",
    "signals": "Signal (signal-cli REST API)",
}
PUSH_SERVICES = {**PUSH_SERVICES_OWN_SERVER, **PUSH_SERVICES_FIXED}


class PushHostRefused(Exception):
    """The push would reach an address it may not (see the module's text)."""


def push_scheme(url: str) -> str:
    return url.split(":", 1)[0].strip().lower()


def address_allowed(address: str) -> bool:
    """Whether a push may connect to this IP address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address written as IPv6 (::ffff:a.b.c.d, 6to4) is that address.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    if ip.is_loopback:  # ::1 counts as reserved too
        return settings.OMBUD_PUSH_ALLOW_PRIVATE
    if ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False
    return ip.is_global or settings.OMBUD_PUSH_ALLOW_PRIVATE


def host_check(host: str) -> None:
    """Resolve a host name (or literal) and refuse it unless every address
    it has may be reached. A name that does not resolve is refused too."""
    host = host.strip("[]")
    try:
        answers = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise PushHostRefused from None
    if not answers or not all(address_allowed(str(a[4][0])) for a in answers):
        raise PushHostRefused


_guard = threading.Lock()


@contextlib.contextmanager
def public_lookups_only() -> Iterator[None]:
    """While the block runs, every name lookup (the push service's host, and
    any a redirect leads to) is checked as `host_check` does, before anything
    connects; a refused one fails as an unknown name would, and
    PushHostRefused is raised when the block ends. The lookup function is
    swapped for the whole process while the block runs (Apprise sends from
    threads of its own), so one block runs at a time; the task worker sends
    nothing else meanwhile."""
    refused = False
    with _guard:
        lookup = socket.getaddrinfo

        def checked(host, port, *args, **kwargs):
            nonlocal refused
            answers = lookup(host, port, *args, **kwargs)
            if not all(address_allowed(str(a[4][0])) for a in answers):
                refused = True
                raise socket.gaierror(socket.EAI_NONAME, "refused by Ombud")
            return answers

        socket.getaddrinfo = checked
        try:
            yield
        except Exception:
            if refused:
                raise PushHostRefused from None
            raise
        finally:
            socket.getaddrinfo = lookup
    if refused:
        raise PushHostRefused

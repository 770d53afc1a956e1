"""Fixed-window rate limits shared by every process through the database."""

import hashlib
import hmac
import ipaddress
import time
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from ombud.lib import crypto
from ombud.lib.housekeeping import housekeeping_step
from ombud.lib.models import ThrottleBucket


def client_ip(request) -> str:
    """The client's address. Behind OMBUD_TRUSTED_PROXY_COUNT reverse proxies
    it is the one the outermost of them put in X-Forwarded-For (entries
    further left are the client's own claims); else REMOTE_ADDR. axes and
    allauth use this too."""
    count = settings.OMBUD_TRUSTED_PROXY_COUNT
    forwarded = [ip.strip() for ip in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if count > 0 and len(forwarded) >= count and forwarded[-count]:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def address_group(ip: str) -> str:
    """What a per-address limit counts: an IPv4 address, or the /64 an IPv6
    address is in (one subscriber usually gets a whole /64, so counting its
    addresses one by one would give them billions of tries)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def throttle_allow(*, scope: str, ident: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt and say whether it may go ahead. Once `limit` attempts
    were made in this window, further ones are refused without a write, so a
    flood costs one indexed read per request."""
    key = hmac.new(
        crypto.pepper_key("throttle"), f"{scope}|{ident}".encode(), hashlib.sha256
    ).hexdigest()
    window = int(time.time() // window_seconds) * window_seconds  # the window's start
    buckets = ThrottleBucket.objects.filter(key=key, window=window)
    count = buckets.values_list("count", flat=True).first()
    if count is not None and count >= limit:
        return False
    if count is None:
        try:
            with transaction.atomic():
                ThrottleBucket.objects.create(key=key, window=window, count=1)
            return True
        except IntegrityError:
            pass  # a concurrent request created it
    buckets.update(count=F("count") + 1)
    return True


@housekeeping_step("throttle buckets")
def throttle_prune(now: datetime, *, older_than_seconds: int = 86400) -> int:
    """Delete the buckets of windows that started more than a day before
    `now`. Every limit's window is an hour or less, so these count nothing
    any more."""
    window_floor = int(now.timestamp()) - older_than_seconds
    return ThrottleBucket.objects.filter(window__lt=window_floor).delete()[0]

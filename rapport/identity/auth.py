"""API authentication: an API key (Bearer) or the browser session, per request."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from rapport.core.errors import RateLimited
from rapport.identity.models import ApiKey, hash_api_key


def api_key_for_token(token: str) -> ApiKey | None:
    """The usable key matching `token` (revoked, expired or inactive users' keys: None)."""
    if not token.startswith("rk_") or len(token) > 200:
        return None
    # key_hash is unique: no ORDER BY needed (`.first()` would add one).
    found = list(
        ApiKey.objects.usable()
        .select_related("user", "user__role")
        .filter(key_hash=hash_api_key(token))
        .order_by()[:1]
    )
    return found[0] if found else None


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_windows: dict[str, list[float]] = {}  # cache key -> [unflushed, shared total, last flush]
_windows_lock = threading.Lock()


def parse_rate(rate: str) -> tuple[int, int]:
    """ "6000/m" -> (6000, 60); "100/5m" -> (100, 300)."""
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"Not a rate: {rate!r} (expected e.g. 6000/m).")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _PERIODS[unit]


def over_rate_limit(key_id: int, rate: str) -> bool:
    """Whether this request takes the key over its budget for the current window.

    A fixed window counted in the shared cache (so every process and machine agrees), but
    each process adds its requests in small batches (at most 1 % of the limit, 50 at most,
    and at least once a second) instead of one cache write per request: on the embedded
    file cache a write costs milliseconds, more than the rest of the request. A key can
    therefore overshoot by at most one batch per process; small limits are counted
    exactly. See docs/decisions/0400-api-rate-limit-batching.md.
    """
    limit, period = parse_rate(rate)
    now = time.time()
    cache_key = f"rapport:rl:api-key:{key_id}:{limit}/{period}:{int(now // period)}"
    flush_every = max(1, min(50, limit // 100))
    with _windows_lock:
        state = _windows.get(cache_key)
        if state is None:
            if len(_windows) > 10_000:  # old windows: forget them
                _windows.clear()
            state = _windows[cache_key] = [0, 0, now]
        state[0] += 1
        pending = 0
        if state[0] >= flush_every or now - state[2] >= 1.0:
            pending, state[0], state[2] = int(state[0]), 0, now
    if pending:
        cache.add(cache_key, 0, timeout=period + 5)
        try:
            total = cache.incr(cache_key, pending)
        except ValueError:  # evicted between add and incr
            cache.set(cache_key, pending, timeout=period + 5)
            total = pending
        with _windows_lock:
            state[1] = total
    return state[1] + state[0] > limit


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer rk_…`: the key's user, narrowed to the key's scopes."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        key = api_key_for_token(token)
        if key is None:
            return None
        if over_rate_limit(key.pk, settings.RATELIMIT_API_PER_KEY):
            raise RateLimited()
        user = key.user
        user.api_key = key
        request.user = user
        now = timezone.now()
        # Record use at most once a minute: a write on every request would cost throughput.
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return user


class SessionUserAuth(SessionAuth):
    """The logged-in browser session (CSRF-checked on unsafe methods)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if user.requires_two_factor and not user.is_verified():
            return None
        return user


def api_auth() -> list[Any]:
    return [ApiKeyAuth(), SessionUserAuth()]

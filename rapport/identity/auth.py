"""API authentication: an API key (Bearer) or the browser session, per request.

A key's lookup (its hash → key, user, role, grants) is kept in a small process-local
cache for at most `API_KEY_CACHE_SECONDS`, so a busy client does not pay a database query
per request. Every change that can take access away (a key revoked or deleted, a user
deactivated or given another role or teams, a role's grants changed) writes a new
*access epoch* into the shared cache (`CACHE_URL`, shared by every process); each request
compares it with the epoch its cached entry was loaded under and reloads on a mismatch,
so a revoked key stops working on the next request in every process. See
docs/decisions/0404-api-key-lookup-cache.md.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from rapport.core.errors import RateLimited
from rapport.core.permissions import Scope
from rapport.identity.models import ApiKey, User, hash_api_key

ACCESS_EPOCH_KEY = "rapport:identity:access-epoch"
_CACHE_MAX_ENTRIES = 2048


def _load_key(token: str) -> ApiKey | None:
    """The usable key matching `token` from the database (None: unknown or unusable)."""
    # key_hash is unique: no ORDER BY needed (`.first()` would add one).
    found = list(
        ApiKey.objects.usable()
        .select_related("user", "user__role")
        .filter(key_hash=hash_api_key(token))
        .order_by()[:1]
    )
    return found[0] if found else None


def api_key_for_token(token: str) -> ApiKey | None:
    """The usable key matching `token` (revoked, expired or inactive users' keys: None).

    Always reads the database; the request path uses `cached_api_key`.
    """
    if not token.startswith("rk_") or len(token) > 200:
        return None
    return _load_key(token)


# --- The key lookup cache ---------------------------------------------------------------


@dataclass
class _Entry:
    key: ApiKey  # with .user (grants and teams resolved) and .user.role loaded
    epoch: str
    loaded_at: float


_entries: dict[str, _Entry] = {}


def access_epoch() -> str:
    """The current access epoch from the shared cache (created when missing or evicted)."""
    epoch = cache.get(ACCESS_EPOCH_KEY)
    if epoch is None:
        cache.add(ACCESS_EPOCH_KEY, uuid.uuid4().hex, timeout=None)
        epoch = cache.get(ACCESS_EPOCH_KEY)
    return str(epoch)


def _new_epoch() -> None:
    # A fresh random value, not a counter: two concurrent bumps can never write the value
    # some process already cached entries under (the file cache's incr is not atomic).
    cache.set(ACCESS_EPOCH_KEY, uuid.uuid4().hex, timeout=None)
    _entries.clear()


def invalidate_api_key_cache() -> None:
    """Make every process reload API keys: call after any change that can take access away.

    Bumped now (so other processes stop trusting what they cached, even while this
    transaction is still open) and again after commit (so nothing loaded from the
    pre-commit state in between survives).
    """
    _new_epoch()
    transaction.on_commit(_new_epoch)


def _resolve_access(user: User) -> None:
    """Load what permission checks read per request (grants, teams) once per cache fill."""
    user._grants()
    if not user.is_admin and any(g.scope == Scope.TEAM for g in user._grants().values()):
        user.team_ids()


def cached_api_key(token: str) -> ApiKey | None:
    """`api_key_for_token` through the process-local cache (see the module docstring).

    Returns a per-request copy of the key's user on `.user`, so nothing one request sets
    on its user object leaks into another request.
    """
    if not token.startswith("rk_") or len(token) > 200:
        return None
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl <= 0:
        return _load_key(token)
    key_hash = hash_api_key(token)
    epoch = access_epoch()  # read before the database, so a change after it is noticed
    now = time.monotonic()
    entry = _entries.get(key_hash)
    if entry is None or entry.epoch != epoch or now - entry.loaded_at > ttl:
        _entries.pop(key_hash, None)
        key = _load_key(token)
        if key is None:
            return None  # unknown keys are not cached: they would let anyone fill memory
        _resolve_access(key.user)
        if len(_entries) >= _CACHE_MAX_ENTRIES:
            _entries.clear()
        entry = _entries[key_hash] = _Entry(key=key, epoch=epoch, loaded_at=now)
    key = entry.key
    if key.expires_at is not None and key.expires_at <= timezone.now():
        _entries.pop(key_hash, None)
        return None
    request_key = copy.copy(key)
    request_key.user = copy.copy(key.user)
    return request_key


def _on_access_change(sender: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    # A login only stamps last_login; a key's last use is written with .update() (no signal).
    if sender is User and update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    invalidate_api_key_cache()


def connect_signals() -> None:
    """Every model whose change can narrow what a key may do invalidates the key cache."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from rapport.identity.models import Role, RolePermission, Team

    for model in (ApiKey, User, Role, RolePermission, Team):
        post_save.connect(_on_access_change, sender=model, dispatch_uid=f"apikey-cache-{model}")
        post_delete.connect(_on_access_change, sender=model, dispatch_uid=f"apikey-cache-d-{model}")
    m2m_changed.connect(
        _on_access_change, sender=User.teams.through, dispatch_uid="apikey-cache-teams"
    )


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
        key = cached_api_key(token)
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
            entry = _entries.get(key.key_hash)
            if entry is not None:
                entry.key.last_used_at = now
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

"""Identity pages: log in (password, then a one-time code when the user has 2FA), log out,
password reset, profile, two-factor set-up, API keys. Settings pages: settings_views."""

from __future__ import annotations

import base64
import time
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, update_session_auth_hash
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_ratelimit.decorators import ratelimit

from rapport.core.redirects import safe_next
from rapport.identity import selectors, services
from rapport.identity.forms import (
    ApiKeyForm,
    LocaleForm,
    LoginForm,
    OtpForm,
    PasswordResetRequestForm,
    ProfileForm,
    ResetSetPasswordForm,
)
from rapport.identity.http import UserRequest
from rapport.identity.models import ApiKey
from rapport.identity.tokens import reset_token_generator

PENDING_KEY = "rapport_pending_2fa"
PENDING_TTL_SECONDS = 300
MAX_OTP_FAILURES = 5


def _two_factor_rate(group: str, request: HttpRequest) -> str:
    return str(settings.RATELIMIT_TWO_FACTOR)


def apply_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _confirmed_devices(user: Any) -> list[Any]:
    return list(devices_for_user(user, confirmed=True))


WRONG_CODE = "That code is not valid. Try the current one."
THROTTLED = "Too many wrong codes: wait a few seconds, then enter the current code."


def _match_code(devices: list[Any], token: str) -> tuple[Any, str]:
    """The device accepting `token`, or None and what to tell the user. django-otp makes
    a device wait after wrong codes; say so rather than calling a right code wrong."""
    throttled = [d for d in devices if not d.verify_is_allowed()[0]]
    device = next((d for d in devices if d.verify_token(token)), None)
    if device is not None:
        return device, ""
    return None, THROTTLED if throttled else WRONG_CODE


# --- Log in and out -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=lambda g, r: settings.RATELIMIT_LOGIN, method="POST", block=True)
def login(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(
        request, request.POST.get("next") or request.GET.get("next"), reverse("core:home")
    )
    if request.user.is_authenticated:
        return redirect(next_url)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=form.cleaned_data["username"].lower(),
            password=form.cleaned_data["password"],
        )
        if user is None:
            form.add_error(None, "That e-mail and password do not match an active account.")
        elif _confirmed_devices(user):
            request.session[PENDING_KEY] = {
                "user_id": user.pk,
                "backend": user.backend,  # type: ignore[attr-defined]  # set by authenticate
                "since": time.time(),
                "failures": 0,
                "next": next_url,
            }
            return redirect("identity:login_verify")
        else:
            auth_login(request, user)
            services.login_recorded(user=user, two_factor=False)
            return redirect(next_url)
    return render(request, "identity/login.html", {"form": form, "next": next_url})


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", group="two-factor", rate=_two_factor_rate, method="POST", block=True)
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step: a TOTP or backup code for the user who passed the password step."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["since"] > PENDING_TTL_SECONDS:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, "Please log in again.")
        return redirect("identity:login")
    user = get_user_model().objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("identity:login")
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"].replace(" ", "")
        device, error = _match_code(_confirmed_devices(user), token)
        if device is None:
            pending["failures"] += 1
            if pending["failures"] >= MAX_OTP_FAILURES:
                request.session.pop(PENDING_KEY, None)
                messages.error(request, "Too many wrong codes. Log in again.")
                return redirect("identity:login")
            request.session[PENDING_KEY] = pending
            form.add_error("token", error)
        else:
            request.session.pop(PENDING_KEY, None)
            user.backend = pending["backend"]  # type: ignore[attr-defined]
            auth_login(request, user)
            otp_login(request, device)
            services.login_recorded(user=user, two_factor=True)
            return redirect(safe_next(request, pending.get("next"), reverse("core:home")))
    return render(request, "identity/login_verify.html", {"form": form})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.success(request, "You are logged out.")
    return redirect("identity:login")


# --- Password reset -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=lambda g, r: settings.RATELIMIT_PASSWORD_RESET, method="POST", block=True)
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(email=form.cleaned_data["email"])
        # The same answer whether or not the address has an account, or hit its cap.
        return redirect("identity:password_reset_sent")
    return render(request, "identity/password_reset.html", {"form": form})


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "identity/password_reset_sent.html",
        {"valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
    )


class ResetConfirmView(PasswordResetConfirmView):
    """Django's reset-link view with our token (dies on deactivation too); the new
    password goes through `services.password_change` so it is audited like every change."""

    token_generator = reset_token_generator
    form_class = ResetSetPasswordForm
    template_name = "identity/password_reset_confirm.html"
    success_url = reverse_lazy("identity:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        services.password_change(
            actor=self.user,
            user=self.user,
            new_password=form.cleaned_data["new_password1"],
            event="password_reset",
        )
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        return HttpResponseRedirect(self.get_success_url())


password_reset_confirm = ResetConfirmView.as_view()


def password_reset_complete(request: HttpRequest) -> HttpResponse:
    return render(request, "identity/password_reset_complete.html")


# --- Profile ------------------------------------------------------------------------


def _profile_page(
    request: UserRequest,
    profile_form: ProfileForm | None = None,
    password_form: PasswordChangeForm | None = None,
    locale_form: LocaleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    context = {
        "profile_form": profile_form or ProfileForm(initial={"full_name": user.full_name}),
        "password_form": password_form or PasswordChangeForm(user),
        "locale_form": locale_form or LocaleForm(initial={"locale": user.locale}),
        "two_factor": selectors.two_factor_status(actor=user),
        "key_count": selectors.api_keys_of(actor=user, owner=user)
        .filter(revoked_at__isnull=True)
        .count(),
    }
    return render(request, "identity/profile.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: UserRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            services.profile_update(actor=request.user, full_name=form.cleaned_data["full_name"])
            messages.success(request, "Your profile is saved.")
            return redirect("identity:profile")
        return _profile_page(request, profile_form=form, status=400)
    return _profile_page(request)


@login_required
@require_POST
def profile_locale(request: UserRequest) -> HttpResponse:
    form = LocaleForm(request.POST)
    if form.is_valid():
        try:
            services.profile_locale_set(actor=request.user, locale=form.cleaned_data["locale"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Your date and number format is saved.")
            return redirect("identity:profile")
    return _profile_page(request, locale_form=form, status=400)


@login_required
@require_POST
def profile_password(request: UserRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        try:
            services.password_change(
                actor=request.user,
                user=request.user,
                new_password=form.cleaned_data["new_password1"],
                event="password_changed",
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # This session follows the new password; every other session of the user ends.
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password is changed. Your other sessions are ended.")
            return redirect("identity:profile")
    return _profile_page(request, password_form=form, status=400)


@login_required
@require_POST
def profile_sessions_end(request: UserRequest) -> HttpResponse:
    services.sessions_end_others(actor=request.user)
    update_session_auth_hash(request, request.user)
    messages.success(request, "You are logged out on every other browser and device.")
    return redirect("identity:profile")


# --- Two-factor ---------------------------------------------------------------------


def _qr_svg(device: TOTPDevice) -> SafeString:
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    # Generated by qrcode from our own otpauth URL: paths only, no user-controlled markup.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308


def _secret_text(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _two_factor_page(
    request: UserRequest, form: OtpForm | None = None, status: int = 200
) -> HttpResponse:
    state = selectors.two_factor_status(actor=request.user)
    context: dict[str, Any] = {"state": state, "form": form or OtpForm()}
    if state.pending is not None:
        context.update(qr_svg=_qr_svg(state.pending), secret=_secret_text(state.pending))
    return render(request, "identity/two_factor.html", context, status=status)


@never_cache
@login_required
def two_factor(request: UserRequest) -> HttpResponse:
    return _two_factor_page(request)


@login_required
@require_POST
def two_factor_setup(request: UserRequest) -> HttpResponse:
    try:
        services.two_factor_start(actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("identity:two_factor")


def _show_backup_codes(request: UserRequest, codes: list[str]) -> HttpResponse:
    response = render(request, "identity/backup_codes.html", {"codes": codes})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@ratelimit(key="user_or_ip", group="two-factor", rate=_two_factor_rate, block=True)
def two_factor_confirm(request: UserRequest) -> HttpResponse:
    form = OtpForm(request.POST)
    if form.is_valid():
        try:
            device, codes = services.two_factor_confirm(
                actor=request.user, token=form.cleaned_data["token"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # Other sessions end; this one stays, and has just proven the device.
            update_session_auth_hash(request, request.user)
            otp_login(request, device)
            return _show_backup_codes(request, codes)
    return _two_factor_page(request, form=form, status=400)


@login_required
@require_POST
@ratelimit(key="user_or_ip", group="two-factor", rate=_two_factor_rate, block=True)
def two_factor_backup_codes(request: UserRequest) -> HttpResponse:
    form = OtpForm(request.POST)
    if form.is_valid():
        try:
            codes = services.two_factor_backup_codes_renew(
                actor=request.user, token=form.cleaned_data["token"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return _show_backup_codes(request, codes)
    return _two_factor_page(request, form=form, status=400)


@login_required
@require_POST
@ratelimit(key="user_or_ip", group="two-factor", rate=_two_factor_rate, block=True)
def two_factor_disable(request: UserRequest) -> HttpResponse:
    form = OtpForm(request.POST)
    if form.is_valid():
        try:
            services.two_factor_disable(actor=request.user, token=form.cleaned_data["token"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, "Two-factor login is off.")
            return redirect("identity:two_factor")
    return _two_factor_page(request, form=form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
@ratelimit(key="user_or_ip", group="two-factor", rate=_two_factor_rate, method="POST", block=True)
def two_factor_verify(request: UserRequest) -> HttpResponse:
    """Where a logged-in session whose user has an authenticator proves it (the
    middleware sends it here when the user's role requires two-factor login)."""
    next_url = safe_next(
        request, request.POST.get("next") or request.GET.get("next"), reverse("core:home")
    )
    if request.user.is_verified():  # type: ignore[attr-defined]  # set by OTPMiddleware
        return redirect(next_url)
    devices = _confirmed_devices(request.user)
    if not devices:
        return redirect("identity:two_factor")
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"].replace(" ", "")
        device, error = _match_code(devices, token)
        if device is None:
            form.add_error("token", error)
        else:
            otp_login(request, device)
            return redirect(next_url)
    return render(request, "identity/two_factor_verify.html", {"form": form, "next": next_url})


# --- API keys -----------------------------------------------------------------------


def _api_keys_page(
    request: UserRequest,
    form: ApiKeyForm | None = None,
    new_key: tuple[ApiKey, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    keys = selectors.api_keys_of(actor=request.user, owner=request.user)
    context = {"keys": keys, "form": form or ApiKeyForm(), "new_key": new_key}
    response = render(request, "identity/api_keys.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: UserRequest) -> HttpResponse:
    if request.method != "POST":
        return _api_keys_page(request)
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, raw = services.api_key_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.scopes(),
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # Rendered, not redirected: the raw key lives only in this one response.
            return _api_keys_page(request, new_key=(key, raw), status=201)
    return _api_keys_page(request, form=form, status=400)


@login_required
@require_POST
def api_key_revoke(request: UserRequest, key_id: int) -> HttpResponse:
    try:
        key = selectors.api_key_for(actor=request.user, key_id=key_id)
    except ApiKey.DoesNotExist as exc:
        raise Http404 from exc
    services.api_key_revoke(actor=request.user, key=key)
    messages.success(request, f"The key “{key.name}” is revoked; it no longer works.")
    return redirect(safe_next(request, request.POST.get("next"), reverse("identity:api_keys")))

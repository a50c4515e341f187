"""Settings pages for administrators: users, teams and roles (everybody else gets 403)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from rapport.identity import selectors, services
from rapport.identity.forms import RoleForm, TeamForm, UserCreateForm, UserEditForm
from rapport.identity.http import UserRequest
from rapport.identity.models import Role, Team, User
from rapport.identity.views import apply_errors

USERS_PER_PAGE = 50
TEMPORARY_PASSWORD = "password"  # noqa: S105  (the form's choice, not a password)

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: UserRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_admin:
            raise PermissionDenied("Only administrators may open the settings.")
        return view(request, *args, **kwargs)

    return wrapped


@admin_required
def settings_home(request: UserRequest) -> HttpResponse:
    return redirect("identity:settings_users")


# --- Users --------------------------------------------------------------------------


@admin_required
def users(request: UserRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    listing = selectors.users_for_settings(actor=request.user, query=query)
    page = Paginator(listing, USERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "identity/settings/users.html", {"page": page, "q": query, "tab": "users"}
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: UserRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        temporary = data["password_mode"] == TEMPORARY_PASSWORD
        try:
            user = services.user_create(
                actor=request.user,
                email=data["email"],
                full_name=data["full_name"],
                role=data["role"],
                teams=data["teams"],
                password=data["password"] if temporary else None,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            how = (
                "Tell them the temporary password."
                if temporary
                else "They get an e-mail with a link to set their password."
            )
            messages.success(request, f"{user.email} can now log in. {how}")
            return redirect("identity:settings_user", user_id=user.pk)
    return render(
        request,
        "identity/settings/user_form.html",
        {"form": form, "tab": "users"},
        status=400 if form.errors else 200,
    )


def _user_or_404(request: UserRequest, user_id: int) -> User:
    try:
        return selectors.user_for_settings(actor=request.user, user_id=user_id)
    except User.DoesNotExist as exc:
        raise Http404 from exc


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: UserRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(request, user_id)
    initial = {
        "full_name": user.full_name,
        "role": user.role,
        "teams": list(user.teams.all()),
        "is_active": user.is_active,
    }
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update(
                actor=request.user,
                user=user,
                full_name=data["full_name"],
                role=data["role"],
                teams=data["teams"],
                is_active=data["is_active"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{user.email} is saved.")
            return redirect("identity:settings_user", user_id=user.pk)
    context = {
        "form": form,
        "subject": user,
        "keys": selectors.api_keys_of(actor=request.user, owner=user),
        "two_factor": selectors.two_factor_status(actor=user),
        "tab": "users",
    }
    return render(
        request, "identity/settings/user_form.html", context, status=400 if form.errors else 200
    )


@admin_required
@require_POST
def user_unlock(request: UserRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(request, user_id)
    cleared = services.user_unlock(actor=request.user, user=user)
    attempts = ngettext("%(n)d failed attempt", "%(n)d failed attempts", cleared)
    messages.success(request, f"Lock-out lifted for {user.email} ({attempts % {'n': cleared}}).")
    return redirect("identity:settings_user", user_id=user.pk)


@admin_required
@require_POST
def user_two_factor_reset(request: UserRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(request, user_id)
    services.two_factor_reset(actor=request.user, user=user)
    messages.success(request, f"Two-factor login removed for {user.email}.")
    return redirect("identity:settings_user", user_id=user.pk)


@admin_required
@require_POST
def user_password_link(request: UserRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(request, user_id)
    try:
        services.user_send_password_link(actor=request.user, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"A link to set a password is on its way to {user.email}.")
    return redirect("identity:settings_user", user_id=user.pk)


# --- Teams --------------------------------------------------------------------------


@admin_required
def teams(request: UserRequest) -> HttpResponse:
    listing = selectors.teams_for_settings(actor=request.user)
    return render(request, "identity/settings/teams.html", {"teams": listing, "tab": "teams"})


def _team_or_404(request: UserRequest, team_id: int) -> Team:
    try:
        return selectors.team_for_settings(actor=request.user, team_id=team_id)
    except Team.DoesNotExist as exc:
        raise Http404 from exc


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: UserRequest, team_id: int | None = None) -> HttpResponse:
    team = _team_or_404(request, team_id) if team_id is not None else None
    initial = (
        {"name": team.name, "description": team.description, "members": list(team.members.all())}
        if team
        else {}
    )
    form = TeamForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if team is None:
                team = services.team_create(
                    actor=request.user,
                    name=data["name"],
                    description=data["description"],
                    members=data["members"],
                )
            else:
                services.team_update(
                    actor=request.user,
                    team=team,
                    name=data["name"],
                    description=data["description"],
                    members=data["members"],
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"The team “{team.name}” is saved.")
            return redirect("identity:settings_teams")
    return render(
        request,
        "identity/settings/team_form.html",
        {"form": form, "team": team, "tab": "teams"},
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def team_delete(request: UserRequest, team_id: int) -> HttpResponse:
    team = _team_or_404(request, team_id)
    name = team.name
    services.team_delete(actor=request.user, team=team)
    messages.success(request, f"The team “{name}” is deleted.")
    return redirect("identity:settings_teams")


# --- Roles --------------------------------------------------------------------------


@admin_required
def roles(request: UserRequest) -> HttpResponse:
    listing = selectors.roles_for_settings(actor=request.user)
    return render(request, "identity/settings/roles.html", {"roles": listing, "tab": "roles"})


def _role_or_404(request: UserRequest, role_id: int) -> Role:
    try:
        return selectors.role_for_settings(actor=request.user, role_id=role_id)
    except Role.DoesNotExist as exc:
        raise Http404 from exc


@admin_required
@require_http_methods(["GET", "POST"])
def role_edit(request: UserRequest, role_id: int | None = None) -> HttpResponse:
    role = _role_or_404(request, role_id) if role_id is not None else None
    form = RoleForm(request.POST or None, role=role)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "description": data["description"],
            "is_admin": data["is_admin"],
            "requires_two_factor": data["requires_two_factor"],
            "grants": form.grants(),
        }
        try:
            if role is None:
                role = services.role_create(actor=request.user, **fields)
            else:
                services.role_update(actor=request.user, role=role, **fields)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"The role “{role.name}” is saved.")
            return redirect("identity:settings_roles")
    return render(
        request,
        "identity/settings/role_form.html",
        {"form": form, "role": role, "tab": "roles"},
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def role_delete(request: UserRequest, role_id: int) -> HttpResponse:
    role = _role_or_404(request, role_id)
    name = role.name
    try:
        services.role_delete(actor=request.user, role=role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("identity:settings_role", role_id=role_id)
    messages.success(request, f"The role “{name}” is deleted.")
    return redirect("identity:settings_roles")

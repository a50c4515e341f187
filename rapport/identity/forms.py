"""Identity forms. Each lists its fields explicitly: nothing a user may not set (role,
teams, is_staff, is_superuser, owner) is ever read from a request by accident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.forms.boundfield import BoundField
from django.utils import timezone

from rapport.core import registry
from rapport.core.permissions import ACTIONS, Scope
from rapport.core.widgets import DateInput
from rapport.identity.models import Role, Team, User


class LoginForm(forms.Form):
    username = forms.EmailField(
        label="E-mail",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OtpForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="The 6-digit code from your authenticator app, or a backup code.",
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150, required=False)


def _locale_choices() -> list[tuple[str, str]]:
    return [("", "Browser default"), *settings.LANGUAGES]


class LocaleForm(forms.Form):
    locale = forms.ChoiceField(
        label="Write them as in",
        choices=_locale_choices,
        required=False,
        help_text="How dates and numbers are written for you. Browser default follows "
        "your browser's language setting.",
    )


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class ResetSetPasswordForm(SetPasswordForm):
    """Django's set-password form; the view saves through `services.password_change`."""


# --- API keys -----------------------------------------------------------------------

ACCESS_CHOICES = [("", "No access"), ("read", "Read"), ("write", "Read and write")]


def _scope_field_name(object_type: str) -> str:
    return "scope__" + object_type.replace(".", "__")


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Where the key is used, e.g. “Webshop sync”.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=DateInput(),
        help_text="Optional. The key stops working at the start of this day (UTC).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.object_types = registry.api_key_object_types()
        for object_type in self.object_types:
            self.fields[_scope_field_name(object_type.name)] = forms.ChoiceField(
                label=object_type.label_plural, choices=ACCESS_CHOICES, required=False
            )

    def scope_fields(self) -> list[BoundField]:
        return [self[_scope_field_name(t.name)] for t in self.object_types]

    def clean_expires_on(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("expires_on")
        if value is not None and value <= timezone.now().date():
            raise forms.ValidationError("Choose a date after today.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.scopes():
            raise forms.ValidationError("Choose read or read-and-write for at least one type.")
        return data

    def scopes(self) -> list[str]:
        chosen = []
        for object_type in self.object_types:
            access = self.cleaned_data.get(_scope_field_name(object_type.name))
            if access in {"read", "write"}:
                chosen.append(f"{object_type.name}:{access}")
        return chosen

    def expires_at(self) -> dt.datetime | None:
        day: dt.date | None = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


# --- Settings: users, teams, roles --------------------------------------------------


def _role_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label="Role",
        queryset=Role.objects.order_by("name"),
        required=False,
        empty_label="No role (sees nothing)",
    )


def _teams_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label="Teams",
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class UserCreateForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)
    full_name = forms.CharField(label="Full name", max_length=150, required=False)
    role = _role_field()
    teams = _teams_field()
    password_mode = forms.ChoiceField(
        label="First password",
        choices=[
            ("link", "E-mail a link to set a password"),
            ("password", "Set a temporary password now"),
        ],
        initial="link",
        widget=forms.RadioSelect,
    )
    password = forms.CharField(
        label="Temporary password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only with “temporary password”. Tell it to the user; they change it "
        "from their profile.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password_mode") == "password" and not data.get("password"):
            self.add_error("password", "Enter the temporary password, or e-mail a link instead.")
        return data


class UserEditForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150, required=False)
    role = _role_field()
    teams = _teams_field()
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="An inactive user cannot log in; their sessions end and API keys are revoked.",
    )


class TeamForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    description = forms.CharField(label="Description", max_length=255, required=False)
    members = forms.ModelMultipleChoiceField(
        label="Members",
        queryset=User.objects.filter(is_active=True).order_by("email"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@dataclass(frozen=True)
class MatrixRow:
    object_type: registry.ObjectType
    actions: list[BoundField]
    scope: BoundField


def _grant_field_name(object_type: str, part: str) -> str:
    return f"grant__{object_type.replace('.', '__')}__{part}"


class RoleForm(forms.Form):
    """Name, flags and the permission matrix: one row per registered object type, a
    checkbox per action and a record-scope select."""

    name = forms.CharField(label="Name", max_length=100)
    description = forms.CharField(label="Description", max_length=255, required=False)
    is_admin = forms.BooleanField(
        label="Administrator",
        required=False,
        help_text="Everything on every record, plus these settings. The matrix is ignored.",
    )
    requires_two_factor = forms.BooleanField(
        label="Requires two-factor login",
        required=False,
        help_text="Users with this role must set up an authenticator app at their next login.",
    )

    def __init__(self, *args: Any, role: Role | None = None, **kwargs: Any) -> None:
        if role is not None and "initial" not in kwargs:
            initial: dict[str, Any] = {
                "name": role.name,
                "description": role.description,
                "is_admin": role.is_admin,
                "requires_two_factor": role.requires_two_factor,
            }
            for perm in role.permissions.all():
                for action in ACTIONS:
                    initial[_grant_field_name(perm.object_type, action)] = getattr(
                        perm, f"can_{action}"
                    )
                initial[_grant_field_name(perm.object_type, "scope")] = perm.scope
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.object_types = registry.object_types()
        for object_type in self.object_types:
            for action in ACTIONS:
                self.fields[_grant_field_name(object_type.name, action)] = forms.BooleanField(
                    label=f"{action.capitalize()} {object_type.label_plural.lower()}",
                    required=False,
                )
            self.fields[_grant_field_name(object_type.name, "scope")] = forms.ChoiceField(
                label=f"Record scope for {object_type.label_plural.lower()}",
                choices=Scope.choices,
                initial=Scope.OWN,
                # A type added after the form was rendered (a new app) arrives without a
                # value; it means "own", the narrowest scope, not an invalid form.
                required=False,
            )

    def matrix(self) -> list[MatrixRow]:
        return [
            MatrixRow(
                object_type=t,
                actions=[self[_grant_field_name(t.name, a)] for a in ACTIONS],
                scope=self[_grant_field_name(t.name, "scope")],
            )
            for t in self.object_types
        ]

    def grants(self) -> list[Any]:
        from rapport.identity.services import GrantInput

        grants = []
        for t in self.object_types:
            actions = frozenset(
                a for a in ACTIONS if self.cleaned_data.get(_grant_field_name(t.name, a))
            )
            scope = Scope(self.cleaned_data.get(_grant_field_name(t.name, "scope")) or Scope.OWN)
            grants.append(GrantInput(object_type=t.name, actions=actions, scope=scope))
        return grants

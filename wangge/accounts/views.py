"""Login with lockout (MLPS level 3), logout, and changing one's password under the password policy."""

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from .services import SignInRefused, do_sign_in


class LockoutAuthenticationForm(AuthenticationForm):
    """Refuses a locked account even with the right password.

    Every answer is the same for a username that exists and one that does not: the same message for a wrong
    password, and the same lock after the same number of failures (unknown names are counted in LoginThrottle),
    so the form cannot be used to find out who has an account.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed logins: logging in with this username is blocked for %(minutes)s minutes. "
                    "Try again later, or ask an administrator to unlock the account."),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            self.user_cache = do_sign_in(self.request, username, password)
        except SignInRefused as refused:
            raise self.get_locked_error() if refused.locked else self.get_invalid_login_error() from refused
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def get_locked_error(self):
        minutes = max(1, round(settings.WANGGE_LOGIN_LOCK_SECONDS / 60))
        return forms.ValidationError(self.error_messages["locked"], code="locked", params={"minutes": minutes})


class LoginView(auth_views.LoginView):
    form_class = LockoutAuthenticationForm
    template_name = "accounts/login.html"
    # Not redirecting signed-in users: a page they may not open (e.g. /admin/ for non-staff) sends them here with
    # ?next= pointing back at it, which would loop. They see the form and may sign in as someone else.
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or an image cannot log anybody out."""


class PasswordChangeView(auth_views.PasswordChangeView):
    """Checks the old password, then the new one against every AUTH_PASSWORD_VALIDATORS rule."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"

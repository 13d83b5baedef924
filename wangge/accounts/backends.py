from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from .models import User
from .services import do_record_login_failure, do_record_login_success


class LockoutModelBackend(ModelBackend):
    """Username/password login that locks an account after repeated failures (MLPS level 3).

    A locked account is refused even with the right password until the lock expires or an admin unlocks it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = User._default_manager.filter(username=username).first()
        if user is not None and user.is_locked():
            raise PermissionDenied("locked")
        authenticated = super().authenticate(request, username=username, password=password, **kwargs)
        if authenticated is None:
            if user is not None:
                do_record_login_failure(user)
            return None
        do_record_login_success(authenticated)
        return authenticated

    def get_user(self, user_id):
        """The signed-in user of a request, with the assignments that make its scope (one query, not two)."""
        try:
            user = User._default_manager.signed_in(int(user_id))
        except (TypeError, ValueError):
            return None
        return user if user is not None and self.user_can_authenticate(user) else None

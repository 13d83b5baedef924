"""Browsing the change log in the UI: one page per object, under the same rules as the API."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from .history import history_of, object_for_history
from .history_api import describe


class HistoryView(LoginRequiredMixin, TemplateView):
    template_name = "core/history.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = object_for_history(self.request.user, kwargs["app_label"], kwargs["model_name"], kwargs["pk"])
        # Newest first: people come here to see what just happened.
        context.update(obj=describe(obj), verbose_name=obj._meta.verbose_name,
                       changes=list(reversed(history_of(obj))))
        return context

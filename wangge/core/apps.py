from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "wangge.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from django.core.signals import request_finished

        from . import refcache

        request_finished.connect(refcache.request_over, dispatch_uid="refcache.request_over")

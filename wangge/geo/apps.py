from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "wangge.geo"
    label = "geo"
    verbose_name = _("Grid system")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from .locator import active_grids
        from .models import Area, Generation

        # The grids held in memory for reports (geo.locator) are cleared on every change of a generation (an
        # activation) or an area; a bulk write sends no signal, and only drafts are written in bulk.
        for model in (Generation, Area):
            post_save.connect(active_grids.on_change, sender=model, weak=False)
            post_delete.connect(active_grids.on_change, sender=model, weak=False)

from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self):
        from . import export_presenters  # noqa: F401  (registers the export.row renderer)

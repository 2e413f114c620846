from django.apps import AppConfig


class StoryboardsConfig(AppConfig):
    name = "storyboards"
    verbose_name = "Projects and storyboards"

    def ready(self):
        from . import presenters  # noqa: F401  (registers the live regions' renderers)

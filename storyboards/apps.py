from django.apps import AppConfig


class StoryboardsConfig(AppConfig):
    name = "storyboards"
    verbose_name = "Projects and storyboards"

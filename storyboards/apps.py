from django.apps import AppConfig


class StoryboardsConfig(AppConfig):
    name = "storyboards"
    verbose_name = "Projects and storyboards"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from . import presenters  # noqa: F401  (registers the live regions' renderers)

        # Accounts are deactivated outside our services (the admin, manage.py): hear it here.
        post_save.connect(_deactivated, sender=get_user_model(), dispatch_uid="slate-deactivated")


def _deactivated(sender, instance, **kwargs):
    if not instance.is_active:
        from .services import user_access_changed

        user_access_changed(user=instance)

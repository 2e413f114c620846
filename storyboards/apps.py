from django.apps import AppConfig


class StoryboardsConfig(AppConfig):
    name = "storyboards"
    verbose_name = "Projects and storyboards"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save, pre_save

        from . import presenters  # noqa: F401  (registers the live regions' renderers)

        # Accounts are deactivated and passwords changed outside our services (the admin, the
        # password views, manage.py): hear it here, and let the services act.
        User = get_user_model()
        pre_save.connect(_remember_password, sender=User, dispatch_uid="slate-password")
        post_save.connect(_account_saved, sender=User, dispatch_uid="slate-account")


def _remember_password(sender, instance, update_fields=None, **kwargs):
    if instance.pk and (update_fields is None or "password" in update_fields):
        old = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
        instance._password_changed = old is not None and old != instance.password


def _account_saved(sender, instance, created=False, **kwargs):
    from . import services

    if getattr(instance, "_password_changed", False):
        instance._password_changed = False
        services.account_credentials_changed(user=instance)
    elif not instance.is_active and not created:
        services.user_access_changed(user=instance)

from django.conf import settings


def studio(request):
    return {"signup_enabled": settings.SLATE_SIGNUP_ENABLED}

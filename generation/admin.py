from django.contrib import admin

from .models import Take


@admin.register(Take)
class TakeAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "panel",
        "tool",
        "model_key",
        "status",
        "progress",
        "author",
        "queued_at",
        "gpu_seconds",
    )
    list_filter = ("status", "tool", "model_key", "priority")
    raw_id_fields = ("panel", "parent", "retry_of")
    readonly_fields = ("timings", "claim", "worker", "heartbeat_at", "error_detail")

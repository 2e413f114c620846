from django.contrib import admin

from . import models


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_by", "created_at")
    inlines = [MembershipInline]


@admin.register(models.Storyboard)
class StoryboardAdmin(admin.ModelAdmin):
    list_display = ("title", "project", "created_at")
    list_filter = ("project",)


@admin.register(models.Panel)
class PanelAdmin(admin.ModelAdmin):
    list_display = ("id", "storyboard", "position", "shot_type", "prompt")
    list_filter = ("storyboard__project",)
    raw_id_fields = ("selected_take",)


@admin.register(models.Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("panel", "author", "body", "created_at")
    raw_id_fields = ("take",)


for model in (models.Membership, models.ApiToken, models.Script, models.Scene, models.Character,
              models.Location, models.StylePreset, models.ScriptVersion):  # fmt: skip
    admin.site.register(model)

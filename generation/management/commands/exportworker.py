from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run an export worker: rqworker on SLATE_EXPORT_QUEUE with ExportWorker (no torch)."

    def handle(self, *args, **options):
        call_command(
            "rqworker", settings.SLATE_EXPORT_QUEUE,
            worker_class="generation.export_worker.ExportWorker",
        )  # fmt: skip

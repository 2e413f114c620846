from django.core.management.base import BaseCommand

from generation.export_services import exports_reconcile
from generation.services import takes_reconcile


class Command(BaseCommand):
    help = (
        "Put stale running takes and exports back in their queues and re-send wake-ups Redis "
        "has lost."
    )

    def handle(self, *args, **options):
        for noun, result in (("take", takes_reconcile()), ("export", exports_reconcile())):
            self.stdout.write(
                f"requeued {len(result['requeued'])} stale {noun}(s); {result['queued']} queued; "
                f"{result['wakeups_added']} wake-up(s) re-sent"
            )

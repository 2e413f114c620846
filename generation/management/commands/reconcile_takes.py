from django.core.management.base import BaseCommand

from generation.services import takes_reconcile


class Command(BaseCommand):
    help = "Put stale running takes back in the queue and re-send wake-ups Redis has lost."

    def handle(self, *args, **options):
        result = takes_reconcile()
        self.stdout.write(
            f"requeued {len(result['requeued'])} stale take(s); {result['queued']} queued; "
            f"{result['wakeups_added']} wake-up(s) re-sent"
        )

from django.core.management.base import BaseCommand

from studio import events_doc


class Command(BaseCommand):
    help = "Write docs/events.md and the README's event list from the catalogue (studio/events.py)."

    def handle(self, *args, **options):
        events_doc.write()
        self.stdout.write(f"wrote {events_doc.DOC} and the list in {events_doc.README}")

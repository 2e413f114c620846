"""Make a local root CA and an ES256 signing certificate for Content Credentials (dev, tests).

Signing makes them on first use when the configured files are missing; run this to make them
ahead of time or to replace them (--force). A deployment configures a certificate from its own
CA instead (docs/provenance.md).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation import provenance


class Command(BaseCommand):
    help = "Make a local root CA and an ES256 C2PA signing certificate (SLATE_C2PA_CERT/KEY)."

    def add_arguments(self, parser):
        parser.add_argument("--cert", type=Path, default=None, help="chain PEM: signer, then CA")
        parser.add_argument("--key", type=Path, default=None, help="the signer's private key")
        parser.add_argument("--force", action="store_true", help="replace existing files")

    def handle(self, *args, cert=None, key=None, force=False, **options):
        cert_path = cert or Path(settings.SLATE_C2PA_CERT)
        key_path = key or Path(settings.SLATE_C2PA_KEY)
        existing = [str(path) for path in (cert_path, key_path) if path.exists()]
        if existing and not force:
            # A replaced key changes nothing already signed, but it is someone's configuration.
            raise CommandError(f"{', '.join(existing)} already exist; --force replaces them")
        provenance.certificates_create(cert_path=cert_path, key_path=key_path)
        self.stdout.write(f"Wrote {cert_path} (signer, then its local root CA) and {key_path}.")

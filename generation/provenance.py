"""C2PA Content Credentials: who and what made a take, an exported board or an animatic.

Each signed file carries a manifest saying it is AI-generated (digitalSourceType
trainedAlgorithmicMedia), which model made it (the `softwareAgent` of its `c2pa.created` action)
and which people did (CreativeWork authors), signed with `SLATE_C2PA_CERT`/`SLATE_C2PA_KEY`.
c2pa-rs refuses a lone self-signed certificate, so dev and tests sign with a local root CA and an
ES256 certificate it issued, made on first use (`manage.py c2pa_certs`); a deployment configures
its own (docs/provenance.md). No torch here: exporters call this from any process.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from .filelock import locked

log = logging.getLogger(__name__)

CLAIM_GENERATOR = "Slate"
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
TAKE_ASSERTION = "org.slate.take"
# What we sign: c2pa-rs 0.91 (c2pa-python 0.38) embeds a manifest in each of these, a PDF's
# as an embedded file that PDF readers ignore.
FORMATS = ("image/png", "image/jpeg", "application/pdf", "video/mp4")


class ProvenanceError(Exception):
    """A file could not be signed, or carries no readable manifest."""


# --- certificates ----------------------------------------------------------------------------


def certificates_create(*, cert_path: Path, key_path: Path, common_name: str = "Slate") -> None:
    """A local root CA (ECDSA P-256) and an ES256 signing certificate it issued.

    Writes the chain PEM (signer, then CA) to `cert_path` and the signer's key to `key_path`
    (mode 600). c2pa-rs checks the signer's profile: key usage digitalSignature, extended key
    usage emailProtection (the one its default settings accept; documentSigning is for other
    validators), not a CA, an authority key identifier (docs/provenance.md).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, signer_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} local root CA"),
        ]
    )
    signer_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} Content Credentials"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_cert = (
        x509.CertificateBuilder()
        .subject_name(signer_name)
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = signer_cert.public_bytes(pem) + ca_cert.public_bytes(pem)
    key = signer_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(key_path, key)
    _write_private(cert_path, chain, mode=0o644)
    # The root alone, for verifiers' trust anchors (c2patool trust --trust_anchors=ca.pem).
    _write_private(cert_path.with_name("ca.pem"), ca_cert.public_bytes(pem), mode=0o644)


def _key_usage(*, signing: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not signing,
        crl_sign=not signing, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _write_private(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Write beside the target and rename, so a reader never sees half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def certificates_ensure() -> tuple[Path, Path]:
    """The configured chain and key; made here (dev and tests) when neither exists yet."""
    cert_path, key_path = Path(settings.SLATE_C2PA_CERT), Path(settings.SLATE_C2PA_KEY)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    # Two workers may sign their first take together: one makes the pair, the other finds it.
    with locked(cert_path.parent / ".c2pa.lock"):
        if not (cert_path.exists() and key_path.exists()):
            log.warning(
                "No C2PA certificate at %s: made a local root CA and signing certificate. "
                "A deployment should configure its own (SLATE_C2PA_CERT, SLATE_C2PA_KEY; "
                "see docs/provenance.md).",
                cert_path,
            )
            certificates_create(cert_path=cert_path, key_path=key_path)
    return cert_path, key_path


def _signer():
    cert_path, key_path = certificates_ensure()
    # A Signer is consumed by one sign; the parsed info is what is worth keeping.
    return c2pa().Signer.from_info(
        _signer_info(str(cert_path), str(key_path), cert_path.stat().st_mtime_ns)
    )


@lru_cache(maxsize=2)
def _signer_info(cert_path: str, key_path: str, _mtime: int):
    """Read once per certificate file version: a replaced certificate is picked up."""
    chain = Path(cert_path).read_bytes()
    _check_chain(chain, cert_path)
    return c2pa().C2paSignerInfo(
        alg=c2pa().C2paSigningAlg.ES256,
        sign_cert=chain,
        private_key=Path(key_path).read_bytes(),
        # A timestamp keeps a signature valid after its certificate expires; it needs the network.
        ta_url=settings.SLATE_C2PA_TSA_URL or None,
    )


def _check_chain(chain: bytes, cert_path: str) -> None:
    """Refuse a lone self-signed signer in words. c2pa-rs refuses one without an authority key
    identifier ("the certificate is invalid") but signs with one that has it, and every
    validator then reports signingCredential.untrusted."""
    from cryptography import x509

    try:
        signer = x509.load_pem_x509_certificates(chain)[0]
    except ValueError as error:
        raise ProvenanceError(f"{cert_path} holds no PEM certificate: {error}") from error
    if signer.issuer == signer.subject:
        raise ProvenanceError(
            f"{cert_path} starts with a self-signed certificate: C2PA needs a signer issued by a "
            "CA (docs/provenance.md); remove it and its key to have a local CA made"
        )


def c2pa():
    """The native library, loaded on first use: most web requests never sign anything."""
    import c2pa as library

    return library


# --- signing ---------------------------------------------------------------------------------


def model_label(*, key: str, source: str = "", revision: str = "") -> str:
    """How a model is named as the generating tool: registry key, weights and their revision."""
    origin = " @ ".join(part for part in (source, revision) if part)
    return f"{key} ({origin})" if origin and origin != key else key


def manifest_definition(
    *, title: str, models: list[str], authors: list[str], parameters: dict | None = None
) -> dict:
    """The manifest we sign: AI-generated by `models`, made by `authors`, with take settings."""
    created = {
        "action": "c2pa.created",
        "digitalSourceType": AI_GENERATED,
        "softwareAgent": {"name": "; ".join(models) or "unknown model"},
        "parameters": {"models": models},  # one agent per action: the list keeps each name whole
    }
    assertions = [
        {"label": "c2pa.actions", "data": {"actions": [created]}},
        {
            "label": "stds.schema-org.CreativeWork",
            "data": {
                "@context": "https://schema.org",
                "@type": "CreativeWork",
                "author": [{"@type": "Person", "name": name} for name in authors],
            },
        },
    ]
    if parameters is not None:
        assertions.append({"label": TAKE_ASSERTION, "data": parameters})
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR}],
        "title": title,
        "assertions": assertions,
    }


def sign_bytes(
    data: bytes, *, mime: str, title: str, models: list[str], authors: list[str],
    parameters: dict | None = None,
) -> bytes:  # fmt: skip
    """`data` with a signed manifest embedded; `data` itself when SLATE_C2PA_ENABLED is off.

    Raises ProvenanceError (and writes nothing) for a format we do not sign or a refused
    certificate.
    """
    if not settings.SLATE_C2PA_ENABLED:
        return data
    if mime not in FORMATS:
        raise ProvenanceError(f"Content Credentials are not signed into {mime}, only {FORMATS}")
    definition = manifest_definition(
        title=title, models=models, authors=authors, parameters=parameters
    )
    signed = io.BytesIO()
    try:
        with c2pa().Builder(definition, context=_signing_context()) as builder:
            builder.sign(_signer(), mime, io.BytesIO(data), signed)
    except c2pa().C2paError as error:
        raise ProvenanceError(f"signing {mime} failed: {error}") from error
    return signed.getvalue()


def sign_file(
    path: Path, *, mime: str, title: str, models: list[str], authors: list[str],
    parameters: dict | None = None,
) -> None:  # fmt: skip
    """Sign `path` in place (replaced by rename: a reader never sees half a file)."""
    if not settings.SLATE_C2PA_ENABLED:
        return
    path = Path(path)
    signed = sign_bytes(
        path.read_bytes(), mime=mime, title=title, models=models, authors=authors,
        parameters=parameters,
    )  # fmt: skip
    _write_private(path, signed, mode=0o644)


@lru_cache(maxsize=1)
def _signing_context():
    # No claim thumbnail: a take's own picture is the asset, and the JPEG copy cost 90 ms and
    # 30 KB per 256 px take.
    return c2pa().Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})


# --- reading ---------------------------------------------------------------------------------


def read_manifest(data_or_path: bytes | Path | str, *, mime: str) -> dict:
    """The active manifest as a dict, with `validation_state` ("Trusted" when signed under our
    configured root, "Valid" when intact but from another root, "Invalid") and `errors` (failure
    codes with their explanations; empty when nothing failed).

    Raises ProvenanceError when the file carries no manifest at all.
    """
    data = data_or_path if isinstance(data_or_path, bytes) else Path(data_or_path).read_bytes()
    try:
        with c2pa().Reader(mime, io.BytesIO(data), context=_reading_context()) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
    except c2pa().C2paError as error:
        raise ProvenanceError(f"no readable Content Credentials in this {mime}: {error}") from error
    active = store.get("manifests", {}).get(store.get("active_manifest"))
    if active is None:
        raise ProvenanceError(f"no active manifest in this {mime}")
    errors = [
        f"{status.get('code')}: {status.get('explanation', '')}"
        for status in store.get("validation_status") or []
    ]
    return {**active, "validation_state": state, "errors": errors}


def _reading_context():
    """Trust our own root CA, so a file we signed reads as Trusted rather than merely Valid."""
    cert_path = Path(settings.SLATE_C2PA_CERT)
    root = _root_of(cert_path.read_text()) if cert_path.exists() else ""
    if not root:
        return None
    return c2pa().Context.from_dict({"trust": {"user_anchors": root}})


def _root_of(chain_pem: str) -> str:
    """The last certificate of a chain of two or more (a lone certificate is no anchor)."""
    marker = "-----BEGIN CERTIFICATE-----"
    certificates = [marker + part for part in chain_pem.split(marker)[1:]]
    return certificates[-1] if len(certificates) > 1 else ""


# --- takes -----------------------------------------------------------------------------------


def take_record(take) -> dict:
    """Everything that made a take, typed: the PNG text metadata and the `org.slate.take`
    assertion both say this. No query: the claim loads the take with its panel, board and project."""
    storyboard = take.panel.storyboard
    record = {
        "take": take.id, "tool": take.tool, "prompt": take.prompt,
        "prompt_parts": take.prompt_parts, "prompt_cut": take.prompt_cut,
        "negative_prompt": take.negative_prompt, "model": take.model_key,
        "model_source": take.model_source, "model_revision": take.model_revision,
        "seed": take.seed, "steps": take.steps, "guidance": take.guidance,
        "width": take.width, "height": take.height, "strength": take.strength,
        "scale": take.scale, "num_frames": take.num_frames, "fps": take.fps,
        "parent_take": take.parent_id, "reference": take.reference.name,
        "author": take.author.username, "author_name": take.author.get_full_name(),
        "project": storyboard.project.name, "storyboard": storyboard.title,
        "panel": take.panel_id,
    }  # fmt: skip
    return {key: value for key, value in record.items() if value not in (None, "", [])}


def take_sign(*, take, png: bytes, mp4: bytes | None) -> tuple[bytes, bytes | None, dict]:
    """The take's PNG (and MP4) with Content Credentials, and what to add to its timings.

    Never raises: a take that rendered is worth keeping unsigned. A failure is logged and the
    timings say `unsigned` with the reason, so the take's JSON and the admin show it.
    """
    t0 = time.monotonic()
    record = take_record(take)
    author = take.author.get_full_name()
    credentials = {
        "title": f"{record['project']} / {record['storyboard']} / take {take.id}",
        "models": [model_label(key=take.model_key, source=take.model_source, revision=take.model_revision)],
        "authors": [f"{author} ({take.author.username})" if author else take.author.username],
        "parameters": record,
    }  # fmt: skip
    try:
        png = sign_bytes(png, mime="image/png", **credentials)
        mp4 = sign_bytes(mp4, mime="video/mp4", **credentials) if mp4 else None
    except Exception as error:  # a bad certificate, a native crash: never the take's end
        log.exception("take %s kept without Content Credentials", take.id)
        return png, mp4, {"unsigned": f"Content Credentials could not be signed: {error}"[:300]}
    return png, mp4, {"sign_s": round(time.monotonic() - t0, 3)}

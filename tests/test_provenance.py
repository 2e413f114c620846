"""Provenance: PNG text metadata and C2PA Content Credentials on takes, PDFs and MP4s."""

import datetime
import io
import json
import logging

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import CommandError, call_command
from PIL import Image

from generation import provenance
from generation import services as takes
from generation.media import encode_mp4, encode_png
from generation.models import Take
from tests.conftest import wait_for

CREDITS = {"title": "Night Shift / Opening / take 7", "models": ["tiny (builtin:tiny @ r1)"],
           "authors": ["Dana Scully (dana)"]}  # fmt: skip
SETTINGS = {"prompt": "wide shot, a diner at night, rain", "seed": 7, "steps": 2, "guidance": 5.0,
            "width": 64, "height": 64, "parent_take": 3}  # fmt: skip


@pytest.fixture(autouse=True)
def certificates(tmp_path, settings):
    """A CA and signer of this test's own, made on first use like a fresh checkout's."""
    settings.SLATE_C2PA_CERT = tmp_path / "c2pa" / "chain.pem"
    settings.SLATE_C2PA_KEY = tmp_path / "c2pa" / "signer.key"
    settings.SLATE_C2PA_ENABLED = True
    return settings.SLATE_C2PA_CERT, settings.SLATE_C2PA_KEY


def png_bytes(size=64) -> bytes:
    return encode_png(Image.new("RGB", (size, size), "navy"), {"take": "7"})


def created_action(manifest: dict) -> dict:
    [actions] = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    return actions["data"]["actions"][0]


def assertion(manifest: dict, label: str) -> dict:
    [found] = [a["data"] for a in manifest["assertions"] if a["label"] == label]
    return found


# --- certificates ------------------------------------------------------------------------------


def test_the_command_makes_a_ca_and_a_signer_c2pa_accepts(certificates):
    cert_path, key_path = certificates
    call_command("c2pa_certs", stdout=io.StringIO())
    signer, ca = x509.load_pem_x509_certificates(cert_path.read_bytes())
    assert signer.issuer == ca.subject != signer.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert isinstance(signer.public_key(), ec.EllipticCurvePublicKey)
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificate((cert_path.parent / "ca.pem").read_bytes()) == ca
    signed = provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)
    assert provenance.read_manifest(signed, mime="image/png")["validation_state"] == "Trusted"


def test_the_command_keeps_existing_files_unless_forced(certificates):
    cert_path, _ = certificates
    call_command("c2pa_certs", stdout=io.StringIO())
    before = cert_path.read_bytes()
    with pytest.raises(CommandError, match="already exist"):
        call_command("c2pa_certs", stdout=io.StringIO())
    assert cert_path.read_bytes() == before
    call_command("c2pa_certs", "--force", stdout=io.StringIO())
    assert cert_path.read_bytes() != before


def test_missing_certificates_are_made_on_first_signing_and_logged(certificates, caplog):
    cert_path, key_path = certificates
    with caplog.at_level(logging.WARNING, logger="generation.provenance"):
        provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)
    assert cert_path.exists() and key_path.stat().st_mode & 0o777 == 0o600
    assert "A deployment should configure its own" in caplog.text


def self_signed(tmp_path, key_identifiers=True):
    """The signer's own profile (key usage, EKU), but issued by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lone signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(provenance._key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    )  # fmt: skip
    if key_identifiers:
        public = key.public_key()
        cert = cert.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        cert = cert.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
        )
    cert = cert.sign(key, hashes.SHA256())
    cert_path, key_path = tmp_path / "lone.pem", tmp_path / "lone.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("key_identifiers", [True, False])
def test_a_lone_self_signed_certificate_is_refused(tmp_path, settings, key_identifiers):
    settings.SLATE_C2PA_CERT, settings.SLATE_C2PA_KEY = self_signed(tmp_path, key_identifiers)
    with pytest.raises(provenance.ProvenanceError, match="starts with a self-signed certificate"):
        provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)


def test_c2pa_itself_refuses_a_self_signed_certificate_without_key_identifiers(
    tmp_path, settings, monkeypatch
):
    """What our own check stands in front of, pinned: c2pa-rs' words for the same refusal."""
    monkeypatch.setattr(provenance, "_check_chain", lambda chain, path: None)
    settings.SLATE_C2PA_CERT, settings.SLATE_C2PA_KEY = self_signed(tmp_path, False)
    with pytest.raises(provenance.ProvenanceError, match="the certificate is invalid"):
        provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)


def test_c2pa_signs_a_self_signed_certificate_with_key_identifiers_but_never_trusts_it(
    tmp_path, settings, monkeypatch
):
    """Why our check refuses it too: every reader would call it untrusted."""
    monkeypatch.setattr(provenance, "_check_chain", lambda chain, path: None)
    settings.SLATE_C2PA_CERT, settings.SLATE_C2PA_KEY = self_signed(tmp_path, True)
    signed = provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)
    manifest = provenance.read_manifest(signed, mime="image/png")
    assert manifest["validation_state"] == "Valid"
    assert any(error.startswith("signingCredential.untrusted") for error in manifest["errors"])


# --- signing and reading -------------------------------------------------------------------------


def test_a_signed_png_names_the_model_the_people_and_the_settings():
    signed = provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS, parameters=SETTINGS)
    manifest = provenance.read_manifest(signed, mime="image/png")
    assert manifest["validation_state"] == "Trusted" and manifest["errors"] == []
    assert manifest["title"] == CREDITS["title"]
    assert manifest["claim_generator_info"][0]["name"] == "Slate"
    created = created_action(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["softwareAgent"]["name"] == "tiny (builtin:tiny @ r1)"
    work = assertion(manifest, "stds.schema-org.CreativeWork")
    assert [person["name"] for person in work["author"]] == ["Dana Scully (dana)"]
    assert assertion(manifest, "org.slate.take") == SETTINGS
    assert Image.open(io.BytesIO(signed)).text["take"] == "7"  # the PNG's own metadata stays


def test_one_flipped_byte_of_the_picture_invalidates_the_manifest():
    signed = provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)
    tampered = bytearray(signed)
    tampered[signed.index(b"IDAT") + 8] ^= 0x01  # the first byte of the compressed pixels
    manifest = provenance.read_manifest(bytes(tampered), mime="image/png")
    assert manifest["validation_state"] == "Invalid"
    assert any(error.startswith("assertion.dataHash.mismatch") for error in manifest["errors"])


def test_a_file_signed_under_another_root_is_valid_but_not_trusted(tmp_path, settings):
    signed = provenance.sign_bytes(png_bytes(), mime="image/png", **CREDITS)
    settings.SLATE_C2PA_CERT = tmp_path / "other" / "chain.pem"
    settings.SLATE_C2PA_KEY = tmp_path / "other" / "signer.key"
    provenance.certificates_ensure()
    manifest = provenance.read_manifest(signed, mime="image/png")
    assert manifest["validation_state"] == "Valid"
    assert any(error.startswith("signingCredential.untrusted") for error in manifest["errors"])


def test_a_file_without_credentials_says_so():
    with pytest.raises(provenance.ProvenanceError, match="no readable Content Credentials"):
        provenance.read_manifest(png_bytes(), mime="image/png")


def test_a_format_we_do_not_sign_is_refused():
    with pytest.raises(provenance.ProvenanceError, match="not signed into image/gif"):
        provenance.sign_bytes(b"GIF89a", mime="image/gif", **CREDITS)


def test_signing_switched_off_leaves_files_as_they_are(settings, tmp_path):
    settings.SLATE_C2PA_ENABLED = False
    data = png_bytes()
    assert provenance.sign_bytes(data, mime="image/png", **CREDITS) == data
    path = tmp_path / "take.png"
    path.write_bytes(data)
    provenance.sign_file(path, mime="image/png", **CREDITS)
    assert path.read_bytes() == data and not settings.SLATE_C2PA_CERT.exists()


def tiny_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Night Shift / Opening: shot 1, wide, a diner at night")
    page.showPage()
    page.save()
    return buffer.getvalue()


def tiny_mp4() -> bytes:
    return encode_mp4([Image.new("RGB", (64, 48), (40 * i, 0, 90)) for i in range(4)], fps=4)


@pytest.mark.parametrize(
    "mime, name, make", [("application/pdf", "board.pdf", tiny_pdf), ("video/mp4", "animatic.mp4", tiny_mp4)]
)  # fmt: skip
def test_pdf_and_mp4_sign_in_place_and_read_back(tmp_path, mime, name, make):
    path = tmp_path / name
    path.write_bytes(make())
    provenance.sign_file(path, mime=mime, **CREDITS)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [name]  # no sidecar
    manifest = provenance.read_manifest(path, mime=mime)
    assert manifest["validation_state"] == "Trusted", manifest["errors"]
    assert created_action(manifest)["softwareAgent"]["name"] == CREDITS["models"][0]
    tampered = bytearray(path.read_bytes())
    tampered[len(tampered) // 3] ^= 0x01
    assert provenance.read_manifest(bytes(tampered), mime=mime)["validation_state"] == "Invalid"


# --- takes ---------------------------------------------------------------------------------


def test_a_signing_failure_keeps_the_take_unsigned_and_says_why(panel, dana, settings, tmp_path):
    take = takes.take_request(panel=panel, author=dana, seed=5)
    [take] = takes.take_claim_batch(worker="test")
    settings.SLATE_C2PA_CERT, settings.SLATE_C2PA_KEY = self_signed(tmp_path)
    png = png_bytes()
    signed, mp4, timings = provenance.take_sign(take=take, png=png, mp4=None)
    assert signed == png and mp4 is None
    assert timings["unsigned"].startswith("Content Credentials could not be signed")
    assert "self-signed" in timings["unsigned"]


@pytest.mark.worker
def test_a_worker_take_carries_its_record_and_valid_credentials(processes, panel, dana, settings):
    dana.first_name, dana.last_name = "Dana", "Scully"
    dana.save()
    parent = takes.take_request(panel=panel, author=dana, seed=11, steps=2, width=64, height=64)
    clip = takes.take_request(panel=panel, author=dana, tool="video", seed=13, steps=2, width=64,
                              height=64, num_frames=2)  # fmt: skip
    processes.worker(
        SLATE_C2PA_CERT=settings.SLATE_C2PA_CERT, SLATE_C2PA_KEY=settings.SLATE_C2PA_KEY
    )
    wait_for(lambda: Take.objects.filter(pk=parent.pk, status="succeeded").exists(), timeout=120,
             message=f"the take to succeed\n{processes.logs()}")  # fmt: skip
    take = takes.take_request(panel=panel, author=dana, tool="variation", parent_take=parent.id,
                              seed=12, steps=2, strength=0.5)  # fmt: skip

    def done():
        take.refresh_from_db()
        return take.status == "succeeded"

    wait_for(done, timeout=120, message=f"the variation to succeed\n{processes.logs()}")
    with take.image.open("rb") as handle:
        png = handle.read()
    text = Image.open(io.BytesIO(png)).text
    assert text["prompt"] == take.prompt and json.loads(text["prompt_parts"]) == take.prompt_parts
    assert text["model"] == "tiny" and text["seed"] == "12" and text["steps"] == "2"
    assert text["parent_take"] == str(parent.id) and text["author"] == "dana"
    assert text["author_name"] == "Dana Scully"
    assert text["project"] == "Night Shift" and text["storyboard"] == "Opening"
    assert json.loads(text["parameters"])["strength"] == "0.5"
    manifest = provenance.read_manifest(png, mime="image/png")
    assert manifest["validation_state"] == "Trusted", manifest["errors"]
    assert created_action(manifest)["softwareAgent"]["name"].startswith("tiny")
    record = assertion(manifest, "org.slate.take")
    assert record["seed"] == 12 and record["parent_take"] == parent.id
    assert record["prompt"] == take.prompt
    assert "Dana Scully (dana)" in [
        p["name"] for p in assertion(manifest, "stds.schema-org.CreativeWork")["author"]
    ]
    assert "sign_s" in take.timings and "unsigned" not in take.timings
    clip = wait_for(lambda: Take.objects.filter(pk=clip.pk, status="succeeded").first(),
                    timeout=120, message=f"the clip to succeed\n{processes.logs()}")  # fmt: skip
    with clip.video.open("rb") as handle:
        video = provenance.read_manifest(handle.read(), mime="video/mp4")
    assert video["validation_state"] == "Trusted", video["errors"]
    assert assertion(video, "org.slate.take")["num_frames"] == 2

"""Project bundles: a whole project in one ZIP, and back into a new project without loss.

A bundle holds `bundle.json` (every row of the project, serialized generically from each model's
fields, so a field added later travels without changes here), the files its rows name under
`files/`, and `SIGNATURE` (the sha256 of bundle.json, HMAC'd with this install's key). bundle.json
lists every file's sha256, so that one digest covers the files too. docs/bundles.md says what an
import checks and what a bundle from another install can and cannot prove.
"""

import contextlib
import datetime
import hashlib
import hmac
import json
import math
import os
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from generation.models import ACTIVE, Status, Take

from .models import (
    Character,
    Comment,
    Location,
    Membership,
    Notification,
    Panel,
    Project,
    Role,
    Scene,
    Script,
    ScriptVersion,
    StatusChange,
    Storyboard,
    StylePreset,
)

FORMAT = "slate-bundle"
VERSION = 1
JSON_LIMIT = 128 * 2**20  # bundle.json is read whole: rows only, the pictures are files
# Python spends ~200 bytes on each JSON object or list: 120 MB of `[],` (a 120 KB upload) took
# 3 GB and 40 s to read. A project of 5,000 takes holds about 50,000 of them.
JSON_CONTAINERS = 1_000_000
CHUNK = 2**20

# Every model a project holds, parents first, and the path from its rows to the project.
# A foreign key to a model later in this list (or to its own model) is set once every row exists.
BUNDLED: tuple[tuple[type[models.Model], str], ...] = (
    (Project, "pk"),
    (Membership, "project"),
    (Script, "project"),
    (ScriptVersion, "script__project"),
    (Scene, "script__project"),
    (Character, "project"),
    (Location, "project"),
    (StylePreset, "project"),
    (Storyboard, "project"),
    (Panel, "storyboard__project"),  # deleted panels too: the base manager sees them
    (Take, "panel__storyboard__project"),
    (Comment, "panel__storyboard__project"),
    (Notification, "comment__panel__storyboard__project"),
    (StatusChange, "panel__storyboard__project"),
)
ORDER = [model for model, _ in BUNDLED]
# Rows that belong to one person: they come back only for someone who is a member of the import.
PERSONAL = {Membership: "user", Notification: "user"}


class BundleError(ValidationError):
    """A bundle refused before anything is written; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422):
        super().__init__({"file": message})
        self.status = status
        self.detail = message


@dataclass
class ImportedBundle:
    project: Project
    skipped_members: list[str] = field(default_factory=list)  # no account of that name here
    unmatched_people: list[str] = field(default_factory=list)  # their work is credited to you
    verified: bool = False  # sealed by this install's key


def _label(model) -> str:
    return model._meta.label_lower


def _is_user(model) -> bool:
    return model is get_user_model()


def _own_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _own_m2m(model) -> list:
    """Many-to-many fields kept in their own hidden table (a `through` model is bundled itself)."""
    return [f for f in model._meta.many_to_many if f.remote_field.through._meta.auto_created]


def _file_fields(model) -> list:
    return [f for f in _own_fields(model) if isinstance(f, models.FileField)]


def _seal(digest: str) -> str:
    return salted_hmac("slate.bundle", digest, algorithm="sha256").hexdigest()


def _key_id() -> str:
    """Names this install's key (derived from SECRET_KEY) without revealing it."""
    return salted_hmac("slate.bundle.key-id", "", algorithm="sha256").hexdigest()[:16]


# --- writing -----------------------------------------------------------------------------------


def bundle_write(
    *, project: Project, out_path: Path, on_progress: Callable[[float], None] = lambda f: None
) -> None:
    """Write the project as a bundle at `out_path`, whole or not at all. Files are streamed into
    the ZIP; a file gone from storage is listed in `missing_files` and its field left empty."""
    # 1. Rows: one query per model and per hidden many-to-many table, one for usernames.
    rows = _project_rows(project)
    stored = sorted({r[f.name] for m in ORDER for f in _file_fields(m) for r in rows[_label(m)]})
    stored = [name for name in stored if name]
    on_progress(0.05)
    partial = out_path.with_name(out_path.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            # 2. Files, streamed and hashed; stored as they are (pictures are compressed already).
            manifest, total, done = {}, sum(_size(name) for name in stored) or 1, 0
            entries = {name: _entry(name, n) for n, name in enumerate(stored)}
            for name, entry in entries.items():
                digest, size = _copy_into(archive, entry, name)
                if digest is not None:
                    manifest[entry] = {"sha256": digest, "size": size}
                done += size
                on_progress(0.05 + 0.9 * min(done / total, 1))
            # 3. The rows, naming files by their place in the bundle; then the seal.
            data = _bundle_json(project, rows, entries, manifest)
            archive.writestr("bundle.json", data)
            digest = hashlib.sha256(data).hexdigest()
            seal = {"format": f"{FORMAT}-signature", "bundle_sha256": digest,
                    "key_id": _key_id(), "hmac_sha256": _seal(digest)}  # fmt: skip
            archive.writestr("SIGNATURE", json.dumps(seal, indent=1))
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    on_progress(1.0)


def _plain(value):
    """A field's value as JSON. Datetimes keep their microseconds (DjangoJSONEncoder drops them)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _project_rows(project: Project) -> dict[str, list[dict]]:
    """Every row of the project as {label: [row, ...]}, people by username."""
    rows, user_ids = {}, set()
    for model, path in BUNDLED:
        found = model._base_manager.filter(**{path: project.pk}).order_by("pk")
        records = {}
        for instance in found:
            record = {"id": instance.pk}
            for f in _own_fields(model):
                value = f.value_from_object(instance)
                if isinstance(f, models.FileField):
                    value = value.name if value else ""
                elif f.is_relation and _is_user(f.related_model) and value is not None:
                    user_ids.add(value)
                record[f.name] = _plain(value)
            records[instance.pk] = record
        for f in _own_m2m(model):
            for record in records.values():
                record[f.name] = []
            source, target = f.m2m_field_name(), f.m2m_reverse_field_name()
            links = f.remote_field.through.objects.filter(**{f"{source}__in": found.values("pk")})
            for owner, other in links.order_by("pk").values_list(f"{source}_id", f"{target}_id"):
                records[owner][f.name].append(other)
                if _is_user(f.related_model):
                    user_ids.add(other)
        rows[_label(model)] = list(records.values())
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    for model in ORDER:  # ids mean nothing on another install; usernames do
        people = [f.name for f in _own_fields(model) + _own_m2m(model) if f.is_relation
                  and _is_user(f.related_model)]  # fmt: skip
        for record in rows[_label(model)]:
            for name in people:
                value = record[name]
                record[name] = [names[v] for v in value] if isinstance(value, list) else (
                    None if value is None else names[value])  # fmt: skip
    return rows


def _entry(name: str, n: int) -> str:
    """Where a stored file goes in the bundle: under its own name, unless an import would
    refuse that name (an odd one from an older storage)."""
    entry = f"files/{name}"
    return entry if _safe_path(entry) else f"files/renamed/{n}{posixpath.splitext(name)[1][:10]}"


def _size(name: str) -> int:
    try:
        return default_storage.size(name)
    except (OSError, ValueError):
        return 0


def _copy_into(archive: zipfile.ZipFile, entry: str, name: str) -> tuple[str | None, int]:
    try:
        source = default_storage.open(name, "rb")
    except (OSError, ValueError):  # gone from storage, or a name the storage refuses
        return None, 0
    digest, size = hashlib.sha256(), 0
    info = zipfile.ZipInfo(entry, date_time=timezone.now().timetuple()[:6])
    info.compress_type, info.external_attr = zipfile.ZIP_STORED, 0o644 << 16
    with source, archive.open(info, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    return digest.hexdigest(), size


def _bundle_json(project: Project, rows: dict, entries: dict, manifest: dict) -> bytes:
    missing = []
    for model in ORDER:
        for record in rows[_label(model)]:
            for f in _file_fields(model):
                name = record[f.name]
                record[f.name] = entries[name] if name and entries[name] in manifest else ""
                if name and not record[f.name]:
                    missing.append({"model": _label(model), "id": record["id"], "field": f.name,
                                    "name": name})  # fmt: skip
    bundle = {
        "format": FORMAT, "version": VERSION, "exported_at": timezone.now().isoformat(),
        "source": {"project": project.pk, "name": project.name},
        "rows": rows, "files": manifest, "missing_files": missing,
    }  # fmt: skip
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode()


# --- importing ---------------------------------------------------------------------------------


def bundle_import(*, upload, user) -> ImportedBundle:
    """A new project from a bundle, owned by `user`. Everything is checked first; files are
    written only then, and removed again if the rows cannot be."""
    size, limit = getattr(upload, "size", None), settings.SLATE_BUNDLE_UPLOAD_MAX_BYTES
    if size is not None and size > limit:
        raise BundleError(f"The bundle is {_amount(size)}; at most {_amount(limit)}.", 413)
    with _opened(upload) as archive:
        # 1. Every entry, the seal, the JSON, every row and every file's checksum.
        entries = _check_entries(archive)
        data, verified = _read_sealed(archive, entries)
        bundle = _parse(data)
        _check_rows(bundle, entries)
        _check_files(archive, bundle)
        # 2. People: members come back by username; work of people unknown here is yours.
        people = _People.of(bundle, importer=user, verified=verified)
        # 3. Files under new names, then every row in one transaction.
        saved: list[str] = []
        try:
            names = _save_files(archive, bundle, saved)
            project = _create_rows(bundle, names, people, user)
        except BaseException:
            for name in saved:
                default_storage.delete(name)
            raise
    return ImportedBundle(project=project, skipped_members=people.skipped,
                          unmatched_people=sorted(people.unmatched), verified=verified)  # fmt: skip


def _amount(size: int) -> str:
    return f"{round(size / 2**20, 1):g} MB" if size >= 2**20 else f"{max(1, size // 1024)} KB"


@contextlib.contextmanager
def _opened(upload):
    with contextlib.ExitStack() as stack:
        if isinstance(upload, str | Path):
            upload = stack.enter_context(open(upload, "rb"))
        else:
            upload.seek(0)
        try:
            archive = stack.enter_context(zipfile.ZipFile(upload))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            raise BundleError("This is not a Slate bundle: not a ZIP file, or a cut-short one.",
                              400) from None  # fmt: skip
        yield archive


@contextlib.contextmanager
def _reading(entry: str):
    """Any failure to unpack an entry is a damaged bundle: a bad CRC, a cut, odd compression."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as exc:  # fmt: skip
        raise BundleError(f"The bundle is damaged: {entry} cannot be read ({exc}).", 400) from None


def _safe_path(name: str) -> bool:
    """A relative path inside the bundle's folder: no `..`, no root, no drive, no backslash,
    no name longer than a file system takes."""
    parts = name.split("/")
    return (bool(name) and "\\" not in name and ":" not in name and "\x00" not in name
            and all(part not in ("", ".", "..") and len(part) <= 200 for part in parts))  # fmt: skip


def _check_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > settings.SLATE_BUNDLE_MAX_ENTRIES:
        raise BundleError(f"The bundle holds {len(infos)} entries; at most "
                          f"{settings.SLATE_BUNDLE_MAX_ENTRIES}.", 413)  # fmt: skip
    unpacked, limit = sum(info.file_size for info in infos), settings.SLATE_BUNDLE_MAX_BYTES
    if unpacked > limit:
        raise BundleError(f"The bundle unpacks to {_amount(unpacked)}; at most {_amount(limit)}.",
                          413)  # fmt: skip
    entries = {}
    for info in infos:
        for name in {info.filename, info.orig_filename}:
            if not _safe_path(name):
                raise BundleError(f"The bundle names a path outside its folder: {name!r}.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleError(f"The bundle holds a link ({info.filename}); only plain files.")
        if info.filename in entries:
            raise BundleError(f"The bundle holds {info.filename} twice.")
        entries[info.filename] = info
    for required in ("bundle.json", "SIGNATURE"):
        if required not in entries:
            raise BundleError(f"This is not a Slate bundle: it has no {required}.")
    return entries


def _read_sealed(archive: zipfile.ZipFile, entries: dict) -> tuple[bytes, bool]:
    """bundle.json, once its digest matches the seal. Sealed with this install's key: the HMAC
    must match too (verified). Another key: the digest still catches damage and edits made
    without recomputing it, but not a forger (see docs/bundles.md)."""
    if entries["SIGNATURE"].file_size > 4096 or entries["bundle.json"].file_size > JSON_LIMIT:
        raise BundleError("The bundle's SIGNATURE or bundle.json is far too large.", 413)
    with _reading("SIGNATURE"):
        seal = _json(archive.read("SIGNATURE"), "SIGNATURE")
    with _reading("bundle.json"):
        data = archive.read("bundle.json")
    digest = hashlib.sha256(data).hexdigest()
    claimed = seal.get("bundle_sha256") if isinstance(seal, dict) else None
    if not isinstance(claimed, str) or not _same(digest, claimed):
        raise BundleError("The bundle was changed after export: bundle.json does not match its "
                          "signature.")  # fmt: skip
    if seal.get("key_id") != _key_id():
        return data, False
    sealed = seal.get("hmac_sha256")
    if not isinstance(sealed, str) or not _same(sealed, _seal(digest)):
        raise BundleError("The bundle was changed after export: its signature is not this "
                          "studio's.")  # fmt: skip
    return data, True


def _same(digest: str, claimed: str) -> bool:
    return hmac.compare_digest(digest.encode(), claimed.encode("utf-8", "replace"))


def _json(data: bytes, entry: str):
    try:
        return json.loads(data, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        raise BundleError(f"The bundle's {entry} is not valid JSON.", 400) from None


def _not_json(word: str):
    """NaN and Infinity: Python reads them, JSON has no such numbers. Stored, they would make
    the API's answers unreadable to every JSON parser."""
    raise ValueError(f"{word} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as Infinity
        _not_json(text)
    return value


def _parse(data: bytes) -> dict:
    containers = data.count(b"{") + data.count(b"[")  # braces inside text count too: an upper bound
    if containers > JSON_CONTAINERS:
        raise BundleError(f"The bundle's bundle.json holds {containers:,} objects and lists; at "
                          f"most {JSON_CONTAINERS:,}.", 413)  # fmt: skip
    bundle = _json(data, "bundle.json")
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError("This is not a Slate bundle: bundle.json names another format.")
    if bundle.get("version") != VERSION:
        raise BundleError(f"This bundle is format version {bundle.get('version')!r}; this "
                          f"studio reads version {VERSION}.")  # fmt: skip
    source = bundle.get("source")
    ok = (isinstance(source, dict) and isinstance(source.get("name"), str)
          and isinstance(bundle.get("rows"), dict) and isinstance(bundle.get("files"), dict))  # fmt: skip
    if not ok:
        raise BundleError("The bundle's bundle.json lacks its source, rows or files.")
    return bundle


def _check_rows(bundle: dict, entries: dict) -> None:
    """Every row is whole and every reference lands inside the bundle: a row pointing at an id
    it does not carry came from another project (or was made up)."""
    rows, manifest = bundle["rows"], bundle["files"]
    unknown = set(rows) - {_label(model) for model in ORDER}
    if unknown:
        raise BundleError(f"The bundle holds rows this studio does not know: {sorted(unknown)}.")
    ids = {}
    for model in ORDER:
        records = rows.get(_label(model), [])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BundleError(f"The bundle's {_label(model)} rows are not a list of rows.")
        found = [r.get("id") for r in records]
        if not all(type(i) is int for i in found) or len(set(found)) != len(found):
            raise BundleError(f"The bundle's {_label(model)} rows need distinct whole-number ids.")
        ids[model] = set(found)
    if len(ids[Project]) != 1:
        raise BundleError("A bundle holds exactly one project.")
    for entry, listed in manifest.items():
        ok = isinstance(listed, dict) and isinstance(listed.get("sha256"), str)
        if not (entry.startswith("files/") and _safe_path(entry) and ok and entry in entries):
            raise BundleError(f"The bundle lists a file it does not hold: {entry!r}.")
    strays = set(entries) - set(manifest) - {"bundle.json", "SIGNATURE"}
    if strays:
        raise BundleError(f"The bundle holds files its rows do not list: {sorted(strays)[:3]}.")
    for model in ORDER:
        for record in rows.get(_label(model), []):
            _check_record(model, record, ids, manifest)


def _check_record(model, record: dict, ids: dict, manifest: dict) -> None:
    where = f"{model._meta.verbose_name} {record['id']}"
    known = {f.name for f in _own_fields(model) + _own_m2m(model)} | {"id"}
    if set(record) - known:
        raise BundleError(f"The bundle's {where} has fields this studio does not know: "
                          f"{sorted(set(record) - known)}.")  # fmt: skip
    for name, value in record.items():
        if not all(_storable(v) for v in (value if isinstance(value, list) else [value])):
            raise BundleError(f"The bundle's {where} has a NUL or broken character in {name}.")
    for f in _own_fields(model):
        if f.name not in record:
            if not (f.has_default() or f.null or getattr(f, "auto_now_add", False)):
                raise BundleError(f"The bundle's {where} lacks its {f.name}.")
            continue
        raw = record[f.name]
        if f.is_relation and raw is None:
            if not f.null:
                raise BundleError(f"The bundle's {where} lacks its {f.name}.")
        elif f.is_relation and _is_user(f.related_model):
            if not isinstance(raw, str) or not raw or len(raw) > 150:
                raise BundleError(f"The bundle's {where} names no person as {f.name}.")
        elif f.is_relation:
            if (
                f.related_model not in ids
                or type(raw) is not int
                or raw not in ids[f.related_model]
            ):
                raise BundleError(f"The bundle's {where} points at {f.name} {raw!r}, which the "
                                  "bundle does not hold (a row from another project?).")  # fmt: skip
        elif isinstance(f, models.FileField):
            if raw != "" and (not isinstance(raw, str) or raw not in manifest):
                raise BundleError(f"The bundle's {where} names a file the bundle does not hold "
                                  f"({raw!r}: another project's?).")  # fmt: skip
        else:
            try:
                python_value(f, raw)
            except (ValidationError, TypeError, ValueError) as exc:
                message = " ".join(getattr(exc, "messages", [str(exc)]))
                raise BundleError(f"The bundle's {where} has a bad {f.name}: {message}") from None
    for f in _own_m2m(model):
        linked = record.get(f.name, [])
        person = _is_user(f.related_model)
        if not isinstance(linked, list) or not all(
            isinstance(v, str) if person else (f.related_model in ids and v in ids[f.related_model])
            for v in linked
        ):
            raise BundleError(f"The bundle's {where} links {f.name} outside the bundle.")


def _storable(value) -> bool:
    """No database stores NUL in text, nor half a surrogate pair (JSON allows both)."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def python_value(f, raw):
    """A bundled value as the field's Python value, checked as the field checks it (choices,
    lengths); empty values are taken as they were exported."""
    if raw is None:
        if not f.null:
            raise ValidationError("it may not be empty")
        return None
    value = f.to_python(raw)
    if value not in f.empty_values:
        f.validate(value, None)
        f.run_validators(value)
    return value


def _check_files(archive: zipfile.ZipFile, bundle: dict) -> None:
    for entry, listed in bundle["files"].items():
        digest = hashlib.sha256()
        with _reading(entry), archive.open(entry) as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
        if not _same(digest.hexdigest(), listed["sha256"]):
            raise BundleError(f"The bundle was changed after export: {entry} does not match its "
                              "checksum.")  # fmt: skip


@dataclass
class _People:
    """Who the bundle's usernames are here. A member comes back when an account of that name
    exists; a person's work keeps their name when they are a member of the import (or the bundle
    was sealed here), else it is credited to the importer and reported."""

    importer: object
    accounts: dict
    members: set
    verified: bool
    skipped: list
    unmatched: set = field(default_factory=set)

    @classmethod
    def of(cls, bundle: dict, *, importer, verified: bool) -> "_People":
        rows = bundle["rows"]
        named = {r["user"] for r in rows.get(_label(Membership), [])}
        accounts = {u.username: u for u in get_user_model().objects.filter(username__in=named)}
        members = set(accounts) | {importer.username}
        skipped = sorted(named - members)
        wanted = {v for m in ORDER for f in _own_fields(m) + _own_m2m(m)
                  if f.is_relation and _is_user(f.related_model)
                  for r in rows.get(_label(m), []) for v in _as_list(r.get(f.name))}  # fmt: skip
        if verified and wanted - set(accounts):
            extra = get_user_model().objects.filter(username__in=wanted - set(accounts))
            accounts.update({u.username: u for u in extra})
        accounts[importer.username] = importer
        return cls(importer, accounts, members, verified, skipped)

    def known_id(self, username: str) -> int | None:
        if username in self.members or self.verified:
            user = self.accounts.get(username)
            return user.pk if user else None
        return None

    def user_id(self, username: str | None) -> int | None:
        if username is None:
            return None
        found = self.known_id(username)
        if found is None:
            self.unmatched.add(username)
            return self.importer.pk
        return found

    def keeps(self, model, record: dict) -> bool:
        personal = PERSONAL.get(model)
        return personal is None or record.get(personal) in self.members


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def _save_files(archive: zipfile.ZipFile, bundle: dict, saved: list[str]) -> dict[str, str]:
    """Each bundled file once, in the folder of the first field naming it (a reference image a
    take shares with its character stays shared), under a name no other file has."""
    fields = {}
    for model in ORDER:
        for f in _file_fields(model):
            for record in bundle["rows"].get(_label(model), []):
                if record.get(f.name):
                    fields.setdefault(record[f.name], f)
    names = {}
    for entry, f in fields.items():
        target = f.generate_filename(None, posixpath.basename(entry))
        with archive.open(entry) as source:  # read whole and checked already: errors are ours
            content = File(source, name=target)
            content.size = archive.getinfo(entry).file_size
            names[entry] = default_storage.save(target, content, max_length=f.max_length)
        saved.append(names[entry])
    return names


@transaction.atomic
def _create_rows(bundle: dict, names: dict[str, str], people: _People, user) -> Project:
    ids: dict[type, dict[int, int]] = {}  # model -> bundle id -> new id
    try:
        made = [_create_model_rows(model, bundle, ids, names, people, user) for model in ORDER]
        for model, records, instances, deferred in made:
            _second_pass(model, records, instances, deferred, ids)
            _link_many(model, records, ids, people)
        _make_owner(next(iter(ids[Project].values())), user)
    except (DatabaseError, ValueError) as exc:  # a rule the checks above do not repeat
        raise BundleError(f"The bundle's rows break a rule of this database ({exc}).") from None
    project = Project.objects.get(pk=next(iter(ids[Project].values())))
    # A take still waiting or running at export would be picked up by this studio's workers.
    Take.objects.filter(panel__storyboard__project=project, status__in=ACTIVE).update(
        status=Status.CANCELLED, claim="", worker="", heartbeat_at=None,
        error="It was still waiting or running when its project was exported.",
    )  # fmt: skip
    return project


def _create_model_rows(model, bundle, ids, names, people, user) -> tuple:
    later = set(ORDER[ORDER.index(model) :])  # rows not made yet: linked in the second pass
    records = [r for r in bundle["rows"].get(_label(model), []) if people.keeps(model, r)]
    instances, deferred = [], []
    for record in records:
        values, pending = {}, {}
        fresh = _new_project(record["name"], user) if model is Project else {}
        for f in _own_fields(model):
            if f.name not in record or f.attname in fresh:
                continue  # exported before the field existed (its default), or made anew
            raw = record[f.name]
            if f.is_relation and _is_user(f.related_model):
                values[f.attname] = people.user_id(raw)
            elif f.is_relation and raw is not None and f.related_model in later:
                values[f.attname], pending[f.attname] = None, raw
            elif f.is_relation:
                values[f.attname] = None if raw is None else ids[f.related_model][raw]
            elif isinstance(f, models.FileField):
                values[f.attname] = names[raw] if raw else ""
            else:
                values[f.attname] = python_value(f, raw)
        instances.append(model(**values, **fresh))
        deferred.append(pending)
    model._base_manager.bulk_create(instances, batch_size=500)
    ids[model] = {r["id"]: i.pk for r, i in zip(records, instances, strict=True)}
    return model, records, instances, deferred


def _new_project(name: str, user) -> dict:
    """The import is a new project: yours, made now, its name marked if you already have one."""
    taken = set(Project.objects.filter(memberships__user=user).values_list("name", flat=True))
    candidate, n = name, 1
    while candidate in taken:
        suffix = " (imported)" if n == 1 else f" (imported {n})"
        candidate, n = name[: 200 - len(suffix)] + suffix, n + 1
    return {"name": candidate, "created_by_id": user.pk}


def _make_owner(project_id: int, user) -> None:
    if not Membership.objects.filter(project_id=project_id, user=user).update(role=Role.OWNER):
        Membership.objects.create(project_id=project_id, user=user, role=Role.OWNER)


def _second_pass(model, records, instances, deferred, ids) -> None:
    """Links to rows made after this one (a panel's selected take, a take's parent), and the
    timestamps `auto_now` overwrote on insert, put back as exported."""
    clocks = [] if model is Project else [
        f for f in _own_fields(model)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]  # fmt: skip
    changed = set()
    for record, instance, pending in zip(records, instances, deferred, strict=True):
        for f in clocks:
            if f.name in record:
                setattr(instance, f.attname, python_value(f, record[f.name]))
                changed.add(f.attname)
        for attname, raw in pending.items():
            target = next(f for f in _own_fields(model) if f.attname == attname).related_model
            setattr(instance, attname, ids[target][raw])
            changed.add(attname)
    if changed:
        model._base_manager.bulk_update(instances, sorted(changed), batch_size=500)


def _link_many(model, records, ids, people) -> None:
    for f in _own_m2m(model):
        through = f.remote_field.through
        source, target = f"{f.m2m_field_name()}_id", f"{f.m2m_reverse_field_name()}_id"
        links = []
        for record in records:
            for raw in record.get(f.name, []):
                other = people.known_id(raw) if _is_user(f.related_model) else (
                    ids[f.related_model][raw])  # fmt: skip
                if other is not None:  # a mention of someone not here is dropped
                    links.append(through(**{source: ids[model][record["id"]], target: other}))
        through.objects.bulk_create(links, batch_size=500)

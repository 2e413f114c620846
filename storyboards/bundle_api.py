"""Importing a project bundle over JSON (exporting one is an export job: generation's exports)."""

from ninja import File, Router, Schema, Status, UploadedFile

from studio.errors import ERRORS

from .api import ProjectOut
from .bundle import BundleError, bundle_import

router = Router(tags=["storyboards"])


class ImportedOut(Schema):
    project: ProjectOut
    skipped_members: list[str]  # members with no account of that name here: not attached
    unmatched_people: list[str]  # people not here whose takes and comments are now credited to you
    verified: bool  # sealed by this studio's key (exported here and unchanged since)


@router.post("/projects/import", response={201: ImportedOut, **ERRORS})
def import_project(request, file: File[UploadedFile]):
    """Multipart `file`: a bundle from POST /api/projects/{id}/bundle. A new project, yours;
    a bundle that is damaged, changed, too large or refers outside itself is refused whole
    (400, 413 or 422 with a `detail` in words) and nothing is written."""
    try:
        imported = bundle_import(upload=file, user=request.user)
    except BundleError as error:
        return Status(error.status, {"detail": error.detail})
    return Status(201, imported)

"""The projects page's "Import a project bundle" form."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors
from .bundle import BundleError, bundle_import


@login_required
@require_POST
def project_import(request):
    """A new project from a bundle, or the projects page again with the refusal in words."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise BundleError("Choose a project bundle (.zip) to import.", 400)
        imported = bundle_import(upload=upload, user=request.user)
    except BundleError as error:
        context = {"projects": selectors.projects_for_user(user=request.user),
                   "import_error": error.detail}  # fmt: skip
        return render(request, "storyboards/project_list.html", context, status=error.status)
    _tell(request, imported)
    return redirect("project-detail", project_id=imported.project.id)


def _tell(request, imported) -> None:
    notes = [f"Imported “{imported.project.name}”."]
    if imported.skipped_members:
        notes.append(f"Not attached (no account here): {', '.join(imported.skipped_members)}.")
    if imported.unmatched_people:
        notes.append(f"Work of {', '.join(imported.unmatched_people)} is credited to you.")
    messages.success(request, " ".join(notes))

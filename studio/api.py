"""The JSON API: one NinjaAPI, a router per app, one way to answer errors."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from storyboards.services import token_issue, token_revoke

from .auth import user_for_token
from .errors import ERRORS, Conflict, Error, TooMany
from .types import PathId, ShortText, Text


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class BrowserSession(SessionAuth):
    """The browser's session. Without one, a write is unauthenticated (401), not a CSRF failure."""

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


api = NinjaAPI(
    title="Slate API",
    version="1",
    description="Projects, storyboards, panels, takes and comments. Auth: `Authorization: Bearer <token>` "
    "from POST /api/auth/token, or the browser session.",
    auth=[BearerAuth(), BrowserSession()],
    docs_url="/docs",
)


def _validation_detail(error: ValidationError) -> list[dict]:
    if hasattr(error, "error_dict"):
        return [
            {
                "loc": ["body", field],
                "msg": " ".join(m for e in errors for m in e.messages),
                "type": "value_error",
            }
            for field, errors in error.error_dict.items()
        ]
    return [{"loc": ["body"], "msg": " ".join(error.messages), "type": "value_error"}]


@api.exception_handler(ValidationError)
def on_invalid(request, error: ValidationError):
    status = 409 if isinstance(error, Conflict) else 429 if isinstance(error, TooMany) else 422
    return api.create_response(request, {"detail": _validation_detail(error)}, status=status)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, error):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20
    return api.create_response(request, {"detail": f"Request body over {limit} MB."}, status=413)


@api.exception_handler(PermissionDenied)
def on_forbidden(request, error: PermissionDenied):
    return api.create_response(
        request, {"detail": str(error) or "Your role cannot do that."}, status=403
    )


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, error):
    return api.create_response(
        request, {"detail": "Sign in or send a valid Bearer token."}, status=401
    )


class Credentials(Schema):
    username: ShortText
    password: Text


class TokenOut(Schema):
    token: str


class Detail(Schema):
    detail: str


class TokenInfo(Schema):
    id: int
    created_at: datetime
    last_used_at: datetime | None


@api.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, 400: Error, 401: Detail, 413: Error, 422: Error},
    tags=["auth"],
)
def create_token(request, body: Credentials):
    user = authenticate(request, username=body.username, password=body.password)
    if user is None:
        return Status(401, {"detail": "Wrong username or password."})
    return Status(200, {"token": token_issue(user=user)})


@api.get("/auth/tokens", response={200: list[TokenInfo], **ERRORS}, tags=["auth"])
def list_tokens(request):
    """Your API tokens (never the keys: only their hashes are kept), newest first."""
    return request.user.api_tokens.order_by("-created_at", "-id")


@api.delete("/auth/tokens/{token_id}", response={204: None, **ERRORS}, tags=["auth"])
def revoke_token(request, token_id: PathId):
    """Revoke one of your tokens: it stops working at once and its open sockets close."""
    token_revoke(user=request.user, token_id=token_id)
    return Status(204, None)


from generation.api import router as generation_router  # noqa: E402
from generation.export_api import router as exports_router  # noqa: E402
from generation.ledger_api import router as ledger_router  # noqa: E402
from storyboards.api import router as storyboards_router  # noqa: E402
from storyboards.bundle_api import router as bundles_router  # noqa: E402
from storyboards.script_api import router as scripts_router  # noqa: E402

api.add_router("/", bundles_router)  # before /projects/{id}: "import" is no id
api.add_router("/", storyboards_router)
api.add_router("/", generation_router)
api.add_router("/", exports_router)
api.add_router("/", ledger_router)
api.add_router("/", scripts_router)

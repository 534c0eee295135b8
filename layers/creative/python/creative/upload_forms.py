"""Browser uploads: a presigned S3 POST into the uploads prefix, so admission runs on what an operator sends.

The form's conditions are the admission limits a browser could break before admission sees the object: the
exact key, the declared content type and the byte cap of the file's kind. Admission still checks everything
(a form is a promise of the browser, not of the bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from creative.admission.limits import AdmissionLimits
from creative.deferred_model import DeferredModel
from creative.errors import InvalidRequest
from creative.materials import MaterialKind
from creative.uploads import UPLOAD_PREFIX, UploadPlacement

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
# A file name as the key's last segment: no slash, no control characters, no leading dot.
FileName = Annotated[str, StringConstraints(pattern=r"^[^/\\\x00-\x1f.][^/\\\x00-\x1f]{0,199}$")]

CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
    "text/plain": (".txt",),
    "application/jsonl": (".jsonl",),
}
ContentType = Literal["image/png", "image/jpeg", "image/webp", "text/plain", "application/jsonl"]
# Long enough for a slow upload of the largest image to start; short enough that a leaked form is stale soon.
UPLOAD_FORM_TTL_S = 600


class UploadRequest(DeferredModel):
    """What the browser is about to send: where it goes and what it is."""

    model_config = ConfigDict(extra="forbid")

    business_line: Slug
    category: Slug
    filename: FileName
    content_type: ContentType
    size: int = Field(gt=0, description="The file's size in bytes, checked against the kind's cap.")

    @model_validator(mode="after")
    def _extension_matches_type(self) -> UploadRequest:
        if not self.filename.lower().endswith(CONTENT_TYPES[self.content_type]):
            raise ValueError(
                f"a {self.content_type} file is named *{' or *'.join(CONTENT_TYPES[self.content_type])}"
            )
        return self

    @property
    def placement(self) -> UploadPlacement:
        return UploadPlacement(self.business_line, self.category, self.filename)

    @property
    def key(self) -> str:
        return f"{UPLOAD_PREFIX}{self.business_line}/{self.category}/{self.filename}"


class UploadForm(DeferredModel):
    """POST `fields` and then the file (as the form's last field, named `file`) to `url`."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_in: int


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


def max_bytes_for(request: UploadRequest, limits: AdmissionLimits) -> int:
    kind = request.placement.declared_kind
    return limits.max_image_bytes if kind is MaterialKind.IMAGE else limits.max_copy_file_bytes


def check_size(request: UploadRequest, limits: AdmissionLimits) -> int:
    """The byte cap the form will carry; InvalidRequest when the declared size is already past it."""
    cap = max_bytes_for(request, limits)
    if request.size > cap:
        raise InvalidRequest(
            f"{request.filename} is {request.size} bytes; the cap for its kind is {cap}",
            code="too_large",
            details={"max_bytes": cap},
        )
    return cap

"""Admission of one uploaded object: every image or copy line becomes exactly one material record.

Terminal problems (bad bytes, bad layout, duplicates) become REJECTED records with reasons; transient ones
(throttling, a dependency's 5xx) propagate as exceptions so the queue retries and, at last, dead-letters.
Re-running the same object version finds the same ids and changes nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from creative.admission.copy import CopyLine, decode_copy_file, split_copy_lines
from creative.admission.images import inspect_image
from creative.admission.limits import AdmissionLimits
from creative.materials import (
    ImageFacts,
    Material,
    MaterialKind,
    MaterialStatus,
    Rejection,
    RejectionCode,
    hash_bytes,
    hash_copy,
    material_id_for,
)
from creative.ports import MaterialRepository, ObjectStore
from creative.uploads import UploadedObject, UploadPlacement, parse_upload_key

UNKNOWN = "unknown"


class AdmissionResult(BaseModel):
    object_key: str
    admitted: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)
    already_recorded: list[str] = Field(default_factory=list)
    reasons: dict[str, int] = Field(default_factory=dict)

    def count(self, material: Material, stored: bool) -> None:
        if not stored:
            self.already_recorded.append(material.material_id)
        elif material.status is MaterialStatus.ADMITTED:
            self.admitted.append(material.material_id)
        else:
            self.rejected.append(material.material_id)
            for reason in material.reasons:
                self.reasons[reason.code.value] = self.reasons.get(reason.code.value, 0) + 1


class Admission:
    def __init__(self, store: ObjectStore, materials: MaterialRepository, limits: AdmissionLimits):
        self._store = store
        self._materials = materials
        self._limits = limits

    def admit(self, upload: UploadedObject, *, now: str) -> AdmissionResult:
        upload = self._resolve_key(upload)
        result = AdmissionResult(object_key=upload.key)
        placement = parse_upload_key(upload.key)
        kind = placement.declared_kind if placement else None
        if placement is None:
            detail = "keys must look like uploads/<business_line>/<category>/<file>, lowercase slugs"
            self._reject_object(
                upload, None, None, Rejection(code=RejectionCode.BAD_KEY_LAYOUT, detail=detail), now, result
            )
        elif kind is None:
            detail = f"'{placement.extension or placement.filename}' is not an image (.png .jpg .jpeg .webp) or copy (.txt .jsonl) file"
            self._reject_object(
                upload,
                placement,
                None,
                Rejection(code=RejectionCode.FORMAT_NOT_ALLOWED, detail=detail),
                now,
                result,
            )
        elif kind is MaterialKind.IMAGE:
            self._admit_image(upload, placement, now, result)
        else:
            self._admit_copy_file(upload, placement, now, result)
        return result

    def _resolve_key(self, upload: UploadedObject) -> UploadedObject:
        """The key the object really has. Events URL-encode keys; decoding is right unless the raw key
        itself contains '+' or '%' and was sent unencoded, so when the decoded key does not exist and the
        raw one does, the raw one wins. Costs one HEAD, only for keys where the two differ."""
        if upload.raw_key is None or self._store.exists(upload.bucket, upload.key, upload.version_id):
            return upload
        if self._store.exists(upload.bucket, upload.raw_key, upload.version_id):
            return upload.model_copy(update={"key": upload.raw_key, "raw_key": None})
        return upload

    # -- images -------------------------------------------------------------------------------------

    def _admit_image(
        self, upload: UploadedObject, placement: UploadPlacement, now: str, result: AdmissionResult
    ) -> None:
        data = self._read(upload, self._limits.max_image_bytes, MaterialKind.IMAGE, placement, now, result)
        if data is None:
            return
        inspected = inspect_image(data, self._limits)
        if isinstance(inspected, list):
            self._reject_object(upload, placement, MaterialKind.IMAGE, inspected, now, result)
            return
        material = self._material(upload, placement, MaterialKind.IMAGE, now, image=inspected)
        self._admit_unless_duplicate(material, hash_bytes(data), result)

    # -- copy ---------------------------------------------------------------------------------------

    def _admit_copy_file(
        self, upload: UploadedObject, placement: UploadPlacement, now: str, result: AdmissionResult
    ) -> None:
        data = self._read(upload, self._limits.max_copy_file_bytes, MaterialKind.COPY, placement, now, result)
        if data is None:
            return
        decoded = decode_copy_file(data)
        if isinstance(decoded, Rejection):
            self._reject_object(upload, placement, MaterialKind.COPY, decoded, now, result)
            return
        lines = split_copy_lines(decoded, json_lines=placement.extension == ".jsonl", limits=self._limits)
        if isinstance(lines, Rejection):
            self._reject_object(upload, placement, MaterialKind.COPY, lines, now, result)
            return
        for line in lines:
            self._admit_copy_line(upload, placement, line, now, result)

    def _admit_copy_line(
        self,
        upload: UploadedObject,
        placement: UploadPlacement,
        line: CopyLine,
        now: str,
        result: AdmissionResult,
    ) -> None:
        material = self._material(upload, placement, MaterialKind.COPY, now, line=line.line, text=line.text)
        if line.category:
            material.category = line.category
        if line.rejections:
            material.status = MaterialStatus.REJECTED
            material.reasons = list(line.rejections)
            result.count(material, self._materials.put_new(material))
            return
        self._admit_unless_duplicate(material, hash_copy(line.text), result)

    # -- shared -------------------------------------------------------------------------------------

    def _read(
        self,
        upload: UploadedObject,
        max_bytes: int,
        kind: MaterialKind,
        placement: UploadPlacement,
        now: str,
        result: AdmissionResult,
    ) -> bytes | None:
        """The object's bytes, or None after recording why it cannot be admitted.

        The size in the event is checked first, so an oversized object is never downloaded; the store also
        refuses to read past the cap in case the event under-reported it.
        """
        cap = f"the cap for this kind of file is {max_bytes} bytes"
        if upload.size is not None and upload.size > max_bytes:
            too_big = Rejection(code=RejectionCode.TOO_MANY_BYTES, detail=f"{upload.size} bytes; {cap}")
            self._reject_object(upload, placement, kind, too_big, now, result)
            return None
        try:
            data = self._store.read(upload.bucket, upload.key, upload.version_id, max_bytes)
        except ValueError:
            too_big = Rejection(
                code=RejectionCode.TOO_MANY_BYTES, detail=f"more than {max_bytes} bytes; {cap}"
            )
            self._reject_object(upload, placement, kind, too_big, now, result)
            return None
        if data is None:
            gone = Rejection(code=RejectionCode.OBJECT_MISSING, detail="the object version no longer exists")
            self._reject_object(upload, placement, kind, gone, now, result)
        return data

    def _admit_unless_duplicate(self, material: Material, content_hash: str, result: AdmissionResult) -> None:
        material.content_hash = content_hash
        owner = self._materials.claim_content(material.business_line, content_hash, material.material_id)
        if owner != material.material_id:
            material.status = MaterialStatus.REJECTED
            material.duplicate_of = owner
            material.reasons = [
                Rejection(code=RejectionCode.DUPLICATE_CONTENT, detail=f"same content as {owner}")
            ]
        result.count(material, self._materials.put_new(material))

    def _reject_object(
        self,
        upload: UploadedObject,
        placement: UploadPlacement | None,
        kind: MaterialKind | None,
        reasons: Rejection | list[Rejection],
        now: str,
        result: AdmissionResult,
    ) -> None:
        material = self._material(upload, placement, kind, now)
        material.status = MaterialStatus.REJECTED
        material.reasons = reasons if isinstance(reasons, list) else [reasons]
        result.count(material, self._materials.put_new(material))

    @staticmethod
    def _material(
        upload: UploadedObject,
        placement: UploadPlacement | None,
        kind: MaterialKind | None,
        now: str,
        *,
        line: int | None = None,
        text: str | None = None,
        image: ImageFacts | None = None,
    ) -> Material:
        source = upload.source(line)
        return Material(
            material_id=material_id_for(source),
            kind=kind,
            status=MaterialStatus.ADMITTED,
            business_line=placement.business_line if placement else UNKNOWN,
            category=placement.category if placement else UNKNOWN,
            source=source,
            text=text,
            image=image,
            created_at=now,
        )

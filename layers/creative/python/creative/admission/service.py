"""Admission of one uploaded object: every image or copy line becomes exactly one material record.

Terminal problems (bad bytes, bad layout, duplicates) become REJECTED records with reasons; transient ones
(throttling, a dependency's 5xx) propagate as exceptions so the queue retries and, at last, dead-letters.
Re-running the same object version finds the same ids and changes nothing.
"""

from __future__ import annotations

from pydantic import Field

from creative.admission.copy import decode_copy_file, split_copy_lines
from creative.admission.images import inspect_image, served_rendition
from creative.admission.limits import AdmissionLimits
from creative.deferred_model import DeferredModel
from creative.materials import (
    SERVED_PREFIX,
    ImageFacts,
    Material,
    MaterialKind,
    MaterialStatus,
    Reason,
    ReasonCode,
    SourceObject,
    hash_bytes,
    hash_copy,
    material_id_for,
)
from creative.ports import MaterialEvents, MaterialRepository, ObjectStore, QualityPolicies
from creative.quality.screening import ComplianceLists, Screening
from creative.quality.verdicts import Finding, Verdict, reasons_of, status_of
from creative.uploads import UploadedObject, UploadPlacement, parse_upload_key

UNKNOWN = "unknown"
GENERATED_REVIEW = Finding(
    ReasonCode.GENERATED_COPY_REVIEW,
    Verdict.REVIEW,
    "generated copy: this business line reviews it before it may be served",
)


LOGGED_IDS = 10  # ids per list in a log line


class AdmissionResult(DeferredModel):
    object_key: str
    admitted: list[str] = Field(default_factory=list)
    needs_review: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)
    already_recorded: list[str] = Field(default_factory=list)
    reasons: dict[str, int] = Field(default_factory=dict)

    def count(self, material: Material, stored: bool) -> None:
        if not stored:
            self.already_recorded.append(material.material_id)
        elif material.status is MaterialStatus.ADMITTED:
            self.admitted.append(material.material_id)
        else:
            listed = self.needs_review if material.status is MaterialStatus.NEEDS_REVIEW else self.rejected
            listed.append(material.material_id)
            for reason in material.reasons:
                self.reasons[reason.code.value] = self.reasons.get(reason.code.value, 0) + 1

    def log_summary(self, ids_per_list: int = LOGGED_IDS) -> dict[str, object]:
        """What a log line says of the result: counts, reason counts and the first few ids of each list. A
        2,000-line copy file would otherwise put 2,000 ids on one line."""
        summary: dict[str, object] = {"object_key": self.object_key, "reasons": self.reasons}
        for name in ("admitted", "needs_review", "rejected", "already_recorded"):
            ids: list[str] = getattr(self, name)
            summary[name] = len(ids)
            if ids:
                summary[f"{name}_first"] = ids[:ids_per_list]
        return summary


class Admission:
    def __init__(
        self,
        store: ObjectStore,
        materials: MaterialRepository,
        limits: AdmissionLimits,
        events: MaterialEvents,
        *,
        compliance: ComplianceLists,
        policies: QualityPolicies,
    ):
        self._store = store
        self._materials = materials
        self._limits = limits
        self._events = events
        self._compliance = compliance
        self._policies = policies

    def admit(self, upload: UploadedObject, *, now: str) -> AdmissionResult:
        """Records every material of the object, then announces the ones not rejected (tagging runs the model
        checks on them). A retry announces them again, whether or not this attempt stored them: tagging is
        idempotent."""
        screening = Screening(self._policies, self._compliance)
        job = _ObjectAdmission(
            self._store, self._materials, self._limits, screening, self._resolve_key(upload), now
        )
        job.run()
        if job.announced:
            self._events.admitted(job.announced)
        return job.result

    def _resolve_key(self, upload: UploadedObject) -> UploadedObject:
        """The key the object really has. Events URL-encode keys; decoding is right unless the raw key
        itself contains '+' or '%' and was sent unencoded, so when the decoded key does not exist and the
        raw one does, the raw one wins. Costs one HEAD, only for keys where the two differ."""
        if upload.raw_key is None or self._store.exists(upload.bucket, upload.key, upload.version_id):
            return upload
        if self._store.exists(upload.bucket, upload.raw_key, upload.version_id):
            return upload.model_copy(update={"key": upload.raw_key, "raw_key": None})
        return upload


class _ObjectAdmission:
    """The admission of one object version: what it is, and the records it produces."""

    def __init__(
        self,
        store: ObjectStore,
        materials: MaterialRepository,
        limits: AdmissionLimits,
        screening: Screening,
        upload: UploadedObject,
        now: str,
    ):
        self._store = store
        self._materials = materials
        self._limits = limits
        self._screening = screening
        self._upload = upload
        self._now = now
        self._placement: UploadPlacement | None = parse_upload_key(upload.key)
        self._kind = self._placement.declared_kind if self._placement else None
        self.result = AdmissionResult(object_key=upload.key)
        self.announced: list[Material] = []  # what the model checks run on: all but the rejected

    def run(self) -> None:
        if self._placement is None:
            detail = "keys must look like uploads/<business_line>/<category>/<file>, lowercase slugs"
            self._reject(Reason(code=ReasonCode.BAD_KEY_LAYOUT, detail=detail))
        elif self._kind is None:
            named = self._placement.extension or self._placement.filename
            detail = f"'{named}' is not an image (.png .jpg .jpeg .webp) or copy (.txt .jsonl) file"
            self._reject(Reason(code=ReasonCode.FORMAT_NOT_ALLOWED, detail=detail))
        elif self._kind is MaterialKind.IMAGE:
            self._admit_image()
        else:
            self._admit_copy_file()

    def _admit_image(self) -> None:
        data = self._read(self._limits.max_image_bytes)
        if data is None:
            return
        inspected = inspect_image(data, self._limits)
        if isinstance(inspected, list):
            self._reject(*inspected)
            return
        screened = self._screening.image(inspected.image, inspected.facts, self._placement.business_line)
        material = self._material(image=inspected.facts)
        material.quality, material.placements = screened.quality, screened.placements
        if status_of(screened.findings) is not MaterialStatus.REJECTED:  # it may be served: render it
            rendition = served_rendition(inspected.image, inspected.facts.format)
            key = f"{SERVED_PREFIX}{material.business_line}/{material.material_id}.{rendition.extension}"
            bucket = self._upload.bucket
            version = self._store.write(bucket, key, rendition.data, rendition.content_type)
            material.served = SourceObject(bucket=bucket, key=key, version_id=version)
        self._judge(material, hash_bytes(data), screened.findings)

    def _admit_copy_file(self) -> None:
        data = self._read(self._limits.max_copy_file_bytes)
        if data is None:
            return
        decoded = decode_copy_file(data)
        if isinstance(decoded, Reason):
            self._reject(decoded)
            return
        lines = split_copy_lines(
            decoded, json_lines=self._placement.extension == ".jsonl", limits=self._limits
        )
        if isinstance(lines, Reason):
            self._reject(lines)
            return
        for line in lines:
            material = self._material(line=line.line, text=line.text, category=line.category)
            if line.rejections:
                self._store_record(material, line.rejections)
                continue
            screened = self._screening.copy(line.text, material.business_line)
            material.quality = screened.quality
            findings = screened.findings
            if (
                self._placement.generated
                and self._screening.policy(material.business_line).review_generated_copy
            ):
                findings = [*findings, GENERATED_REVIEW]
            self._judge(material, hash_copy(line.text), findings)

    def _read(self, max_bytes: int) -> bytes | None:
        """The object's bytes, or None after recording why it cannot be admitted.

        The size in the event is checked first, so an oversized object is never downloaded; the store also
        refuses to read past the cap in case the event under-reported it.
        """
        upload, cap = self._upload, f"the cap for this kind of file is {max_bytes} bytes"
        if upload.size is not None and upload.size > max_bytes:
            self._reject(Reason(code=ReasonCode.TOO_MANY_BYTES, detail=f"{upload.size} bytes; {cap}"))
            return None
        try:
            data = self._store.read(upload.bucket, upload.key, upload.version_id, max_bytes)
        except ValueError:
            self._reject(Reason(code=ReasonCode.TOO_MANY_BYTES, detail=f"more than {max_bytes} bytes; {cap}"))
            return None
        if data is None:
            self._reject(Reason(code=ReasonCode.OBJECT_MISSING, detail="the object version no longer exists"))
        return data

    def _judge(self, material: Material, content_hash: str, findings: list[Finding]) -> None:
        """Rejected by a check: recorded, and its content left unclaimed (the same bytes uploaded again are
        judged again). Otherwise the content is claimed: a second copy of it is a duplicate."""
        material.content_hash = content_hash
        status = status_of(findings)
        if status is not MaterialStatus.REJECTED:
            owner = self._materials.claim_content(material.business_line, content_hash, material.material_id)
            if owner != material.material_id:
                material.duplicate_of = owner
                findings = [
                    *findings,
                    Finding(ReasonCode.DUPLICATE_CONTENT, Verdict.REJECT, f"same content as {owner}"),
                ]
                status = MaterialStatus.REJECTED
        self._store_record(material, reasons_of(findings), status)

    def _reject(self, *reasons: Reason) -> None:
        """One REJECTED record for the whole object."""
        self._store_record(self._material(), list(reasons))

    def _store_record(
        self, material: Material, reasons: list[Reason] | None = None, status: MaterialStatus | None = None
    ) -> None:
        material.status = status or (MaterialStatus.REJECTED if reasons else MaterialStatus.ADMITTED)
        material.reasons = reasons or []
        self.result.count(material, self._materials.put_new(material))
        if material.status is not MaterialStatus.REJECTED:
            self.announced.append(material)

    def _material(
        self,
        *,
        line: int | None = None,
        text: str | None = None,
        category: str | None = None,
        image: ImageFacts | None = None,
    ) -> Material:
        source = self._upload.source(line)
        placement = self._placement
        return Material(
            material_id=material_id_for(source),
            kind=self._kind,
            status=MaterialStatus.ADMITTED,
            business_line=placement.business_line if placement else UNKNOWN,
            category=category or (placement.category if placement else UNKNOWN),
            source=source,
            text=text,
            image=image,
            created_at=self._now,
        )

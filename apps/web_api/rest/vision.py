"""Vision over REST: classify, detect, and similar images from a search collection.

Each image route takes the image either as a multipart upload (field ``file``, the other
fields as form fields) or as JSON with the image base64-encoded (``image``; a
``data:image/...;base64,`` prefix is allowed). Both are documented in the OpenAPI
document. The routes call the page's ``ImageRecognizer`` (``apps.ui_kit.image_recognizer``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from apps.ui_kit import image_recognizer
from apps.vision import ImageRecognizer
from apps.vision.api import IMAGENET_CHOICE, MAX_TOP_K
from apps.vision.storage import MODEL_PREFIX
from core.errors import InvalidInputError, UnknownModelError
from shared_models.types.vision import CLASSIFICATION_ROLE

from .common import LimitedBodyRoute, error_responses, limits, too_large, upload_limit_bytes

router = APIRouter(prefix="/vision", tags=["vision"], route_class=LimitedBodyRoute)

P = TypeVar("P", bound=BaseModel)
MAX_SIMILAR = 100  # most hits one similar-image query returns


def recognizer() -> ImageRecognizer:
    """The page's recognizer (made on first use): same models, same search collection."""
    return image_recognizer()


# --------------------------------------------------------------------------- models
class ClassifyParams(BaseModel):
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many labels to return.")
    model: str | None = Field(
        None,
        description="`imagenet` (default) or a classifier trained on the Vision page (`vision:<name>`).",
    )


class DetectParams(BaseModel):
    threshold: float = Field(0.25, ge=0, le=1, description="Lowest score kept.")
    iou: float = Field(0.45, ge=0, le=1, description="Overlap above which boxes are merged.")


class SimilarParams(BaseModel):
    k: int = Field(5, ge=1, le=MAX_SIMILAR)


class _Base64Image(BaseModel):
    image: str = Field(
        description="The image file's bytes, base64-encoded (PNG, JPEG, WebP, ...).",
        examples=["iVBORw0KGgoAAAANSUhEUgAA..."],
    )


class ClassifyJson(_Base64Image, ClassifyParams):
    pass


class DetectJson(_Base64Image, DetectParams):
    pass


class SimilarJson(_Base64Image, SimilarParams):
    pass


class PredictionOut(BaseModel):
    label: str = Field(examples=["tabby"])
    score: float = Field(examples=[0.41])


class ClassifyOut(BaseModel):
    model: str
    predictions: list[PredictionOut]


class DetectionOut(BaseModel):
    label: str = Field(examples=["car"])
    score: float
    box: tuple[float, float, float, float] = Field(
        description="x0, y0, x1, y1 in pixels of the upright image."
    )


class DetectOut(BaseModel):
    detections: list[DetectionOut]


class SimilarImageOut(BaseModel):
    name: str
    score: float = Field(description="Cosine similarity of the images' embeddings, in [-1, 1].")


class SimilarOut(BaseModel):
    collection_size: int
    images: list[SimilarImageOut]


class CollectionOut(BaseModel):
    size: int
    skipped: list[str] = Field(
        default_factory=list, description="Files that could not be read, with why."
    )


# --------------------------------------------------------------------------- input
def _body_doc(params: type[BaseModel], json_model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an image route: multipart or base64 JSON."""
    form = params.model_json_schema()
    form["properties"] = {"file": {"type": "string", "format": "binary"}, **form["properties"]}
    form["required"] = ["file", *form.get("required", [])]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": json_model.model_json_schema()},
            },
        }
    }


def _decode_base64(text: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if len(text) * 3 // 4 > upload_limit_bytes():
        raise too_large("image", len(text) * 3 // 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "The image is not valid base64 (send the file's bytes base64-encoded, or upload it as multipart)."
        ) from None
    if not data:
        raise InvalidInputError("The image is empty (0 bytes).")
    return data


async def _read(upload: UploadFile) -> bytes:
    limit = upload_limit_bytes()
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise too_large("image", len(data))
    if not data:
        raise InvalidInputError(f"The uploaded image {upload.filename or ''!s} is empty (0 bytes).")
    return data


def _validate(model: type[P], data: Any, *, json: bool = False) -> P:
    try:
        return model.model_validate_json(data) if json else model.model_validate(data)
    except ValidationError as exc:
        # The web API's handlers turn this into a 400 with the offending field.
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def image_input(
    request: Request, params: type[P], json_model: type[BaseModel]
) -> tuple[bytes, P]:
    """The image bytes and the parameters of an image request, multipart or JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        body = _validate(json_model, await request.body(), json=True)
        fields = body.model_dump()
        return _decode_base64(fields.pop("image")), params.model_validate(fields)
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=16) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInputError("Upload the image as the multipart field 'file'.")
            fields = {k: v for k, v in form.items() if k != "file" and isinstance(v, str)}
            return await _read(upload), _validate(params, fields)
    raise InvalidInputError(
        f"Send the image as multipart/form-data (field 'file') or as JSON with a base64 'image', "
        f"not {kind or 'no content type'}."
    )


# --------------------------------------------------------------------------- routes
@router.post(
    "/classify",
    summary="Classify an image",
    response_model=ClassifyOut,
    responses=error_responses(400, 404, 413),
    openapi_extra=_body_doc(ClassifyParams, ClassifyJson),
)
async def classify(request: Request):
    """Top-k labels, best first (ImageNet, or a classifier trained on the Vision page)."""
    image, p = await image_input(request, ClassifyParams, ClassifyJson)
    rec = recognizer()
    name = _classifier_name(rec, p.model)
    preds = await run_in_threadpool(rec.classify, image, p.top_k, p.model)
    return ClassifyOut(
        model=name, predictions=[PredictionOut(label=x.label, score=x.score) for x in preds]
    )


def _classifier_name(rec: ImageRecognizer, model: str | None) -> str:
    """The name of the classifier ``model`` picks; an unknown trained model is a 404."""
    if model in (None, "", IMAGENET_CHOICE):
        return rec.manager.handle(CLASSIFICATION_ROLE).name
    if ":" in model and not model.startswith(MODEL_PREFIX):
        return model  # an external source (torchvision:, local:): the core resolves it
    known = {s.model_id for s in rec.saved_models()} | {s.name for s in rec.saved_models()}
    if model not in known:
        raise UnknownModelError(
            f"No classifier named {model!r}. Use 'imagenet' or one trained on the Vision page: "
            + (", ".join(sorted(s.model_id for s in rec.saved_models())) or "none yet")
            + "."
        )
    return model


@router.post(
    "/detect",
    summary="Detect objects in an image",
    response_model=DetectOut,
    responses=error_responses(400, 413),
    openapi_extra=_body_doc(DetectParams, DetectJson),
)
async def detect(request: Request):
    """Objects with their labels, scores and boxes, best first."""
    image, p = await image_input(request, DetectParams, DetectJson)
    found = await run_in_threadpool(recognizer().detect, image, p.threshold, p.iou)
    return DetectOut(
        detections=[DetectionOut(label=d.label, score=d.score, box=tuple(d.box)) for d in found]
    )


@router.post(
    "/similar",
    summary="Find similar images in the collection",
    response_model=SimilarOut,
    responses=error_responses(400, 413),
    openapi_extra=_body_doc(SimilarParams, SimilarJson),
)
async def similar(request: Request):
    """The k images of the search collection most like this one (add images to it with
    POST /vision/collection or on the Vision page)."""
    image, p = await image_input(request, SimilarParams, SimilarJson)
    rec = recognizer()
    hits = await run_in_threadpool(rec.similar, image, p.k)
    return SimilarOut(
        collection_size=len(rec.collection),
        images=[SimilarImageOut(name=h.name, score=h.score) for h in hits],
    )


@router.get("/collection", summary="Size of the search collection", response_model=CollectionOut)
def collection():
    return CollectionOut(size=len(recognizer().collection))


@router.post(
    "/collection",
    summary="Add images to the search collection",
    response_model=CollectionOut,
    responses=error_responses(400, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                        "required": ["files"],
                    }
                }
            },
        }
    },
)
async def add_to_collection(request: Request):
    """Adds the uploaded images (field `files`, repeated); unreadable ones are skipped and
    listed. An image already in the collection is not added twice."""
    limit = limits().max_batch_items
    async with request.form(max_files=limit, max_fields=4) as form:
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise InvalidInputError("Upload one or more images as the multipart field 'files'.")
        images = [await _read(u) for u in uploads]
        names = [u.filename or f"image {i + 1}" for i, u in enumerate(uploads)]
    size, skipped = await run_in_threadpool(recognizer().index_images, images, names)
    return CollectionOut(size=size, skipped=skipped)

"""Product photos as the catalog keeps them, free of I/O: what an upload must be, and what is kept
of it. A photo is decoded for real (never trusted on its name or declared type), refused when too
heavy or too large to decode safely, turned upright, stripped of its metadata (EXIF, GPS) by
re-encoding its pixels, and kept as two WebP images whose keys derive from the photo's id only."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from uuid import UUID

from PIL import Image, ImageOps, UnidentifiedImageError

from libs.kit.errors import Conflict, DomainError

MAX_PHOTOS_PER_PRODUCT = 8
ORIGINAL_MAX_SIDE = 2000
THUMBNAIL_MAX_SIDE = 400
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
STORED_FORMAT, STORED_EXTENSION, STORED_CONTENT_TYPE = "WEBP", "webp", "image/webp"
_QUALITY = {"original": 85, "thumbnail": 80}


class PhotoTooHeavy(DomainError):
    status, code = 413, "payload_too_large"


class NotAnImage(DomainError):
    status, code = 415, "unsupported_media_type"


class ImageTooLarge(DomainError):
    """More pixels than may be decoded: a decompression bomb, or simply far too large a picture."""

    status, code = 422, "image_too_large"


class MissingPhoto(DomainError):
    status, code = 422, "validation_error"


class TooManyPhotos(Conflict):
    pass


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedPhoto:
    """What is kept of an upload: the picture (``ORIGINAL_MAX_SIDE`` at most on its long side)
    and its thumbnail, both re-encoded from their pixels alone."""

    original: EncodedImage
    thumbnail: EncodedImage
    content_type: str = STORED_CONTENT_TYPE


@dataclass(frozen=True)
class PhotoKeys:
    original: str
    thumbnail: str

    def all(self) -> list[str]:
        return [self.original, self.thumbnail]


def photo_keys(photo_id: UUID) -> PhotoKeys:
    """Where a photo's images are stored: from its id alone, never from a name someone sent."""
    folder = f"photos/{photo_id}"
    return PhotoKeys(original=f"{folder}/original.{STORED_EXTENSION}",
                     thumbnail=f"{folder}/thumbnail.{STORED_EXTENSION}")


def check_room_for_photo(photos_already: int) -> None:
    if photos_already >= MAX_PHOTOS_PER_PRODUCT:
        raise TooManyPhotos(f"a product has {MAX_PHOTOS_PER_PRODUCT} photos at most; "
                            "delete one before adding another")


def check_weight(size: int, limits: PhotoLimits) -> None:
    if size > limits.max_bytes:
        raise PhotoTooHeavy(f"the photo weighs more than {limits.max_bytes} bytes "
                            f"({limits.max_bytes / 2**20:g} MiB), the most accepted")


def process_photo(upload: bytes, limits: PhotoLimits) -> ProcessedPhoto:
    """The photo kept of ``upload``, or the reason it is refused. Blocking (it decodes and
    encodes images): run it in a thread."""
    check_weight(len(upload), limits)
    picture = _decoded(upload, limits)
    upright = _with_plain_pixels(_upright(picture))
    icc_profile = picture.info.get("icc_profile")
    original = _bounded(upright, ORIGINAL_MAX_SIDE)
    thumbnail = _bounded(original, THUMBNAIL_MAX_SIDE)
    return ProcessedPhoto(original=_encoded(original, _QUALITY["original"], icc_profile),
                          thumbnail=_encoded(thumbnail, _QUALITY["thumbnail"], icc_profile))


def _decoded(upload: bytes, limits: PhotoLimits) -> Image.Image:
    try:
        picture = Image.open(BytesIO(upload), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as bomb:
        raise ImageTooLarge(f"the image has too many pixels to be decoded safely: {bomb}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise NotAnImage("not an image: send a JPEG, PNG or WebP photo") from None
    # The header says how large the picture is; refuse before its pixels are decoded.
    if picture.width * picture.height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {picture.width}×{picture.height} pixels; "
            f"{limits.max_pixels / 1e6:g} megapixels at most")
    # A JPEG can be decoded at a fraction of its size, far faster, when it is shrunk anyway.
    picture.draft("RGB", (ORIGINAL_MAX_SIDE, ORIGINAL_MAX_SIDE))
    try:
        picture.load()
    except (OSError, ValueError, SyntaxError):
        raise NotAnImage("not an image: the file is damaged or truncated") from None
    return picture


def _upright(picture: Image.Image) -> Image.Image:
    """``picture`` turned as its EXIF orientation says, or as it is when its EXIF is unreadable:
    broken EXIF is common, says nothing of the pixels, and is dropped anyway."""
    try:
        return ImageOps.exif_transpose(picture)
    except Exception:  # noqa: BLE001 (Pillow raises many kinds on malformed EXIF)
        return picture


def _with_plain_pixels(picture: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has transparency; nothing of the upload's metadata."""
    plain = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
    plain.info.clear()
    return plain


def _bounded(picture: Image.Image, max_side: int) -> Image.Image:
    """``picture`` no larger than ``max_side`` on its long side; a smaller one is left as is."""
    bounded = picture.copy()
    bounded.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return bounded


def _encoded(picture: Image.Image, quality: int, icc_profile: bytes | None) -> EncodedImage:
    # Only the colour profile is carried over: it is how the colours are meant, not who took it.
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    buffer = BytesIO()
    picture.save(buffer, STORED_FORMAT, quality=quality, **extra)
    return EncodedImage(buffer.getvalue(), picture.width, picture.height)

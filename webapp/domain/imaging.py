"""Photo processing rules (DESIGN §7): what an acceptable photo is and how the standard
card photo is made from it. Plain functions on bytes; no database, no Flask.

- Validated by content: JPEG, PNG or TIFF as Pillow reads it, whatever the file is called;
  size and pixel limits checked on the header before anything is decoded; Pillow's
  decompression-bomb guard stays on and its warning counts as a refusal.
- EXIF orientation applied; CMYK, 16-bit, palette, grey and transparent images become
  8-bit sRGB (embedded ICC profiles converted, transparency on white).
- A 3:4 portrait crop: around the largest face when OpenCV's Haar cascade (shipped inside
  opencv-python-headless, no download) finds one, else the largest centred box; or the
  box a person chose.
- The standard photo (600×800 JPEG), a thumbnail (120×160, from the standard photo) and
  a preview of the whole upright picture (for the crop screen), without any metadata.
- Decoded once (a JPEG at the smallest DCT scale the crop allows) and never turned,
  copied or converted whole: each output is reduced from the stored pixels first.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from webapp.domain.errors import N_, DomainError

ACCEPTED_FORMATS = ("JPEG", "PNG", "TIFF")
STANDARD_SIZE = (600, 800)
THUMB_SIZE = (120, 160)
PREVIEW_SIDE = 1200  # the upright original for the crop screen, at most this long
JPEG_QUALITY = 88
THUMB_QUALITY = 80
RATIO = 3 / 4  # width / height of the portrait
RATIO_TOLERANCE = 0.03  # a chosen box this close to 3:4 is squared up, not refused
DETECT_SIDE = 400  # faces are looked for on a copy at most this wide or high


class PhotoRefused(DomainError):
    """The file is not an acceptable photo; the message says why (shown per file)."""

    status_code = 422


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 150

    @classmethod
    def from_config(cls, config: Mapping) -> PhotoLimits:
        return cls(
            max_bytes=int(config.get("PHOTO_MAX_MB", 15)) * 1024 * 1024,
            max_pixels=int(config.get("PHOTO_MAX_MEGAPIXELS", 40)) * 1_000_000,
            min_side=int(config.get("PHOTO_MIN_SIDE", 150)),
        )


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @property
    def key(self) -> str:
        return f"{self.left},{self.top},{self.width},{self.height}"

    def scaled(self, factor: float) -> tuple[int, int, int, int]:
        return (
            round(self.left * factor),
            round(self.top * factor),
            round((self.left + self.width) * factor),
            round((self.top + self.height) * factor),
        )


@dataclass(frozen=True)
class ProcessedPhoto:
    standard: bytes
    thumb: bytes
    preview: bytes  # the whole upright picture, reduced
    width: int  # the upright original
    height: int
    box: Box
    face_found: bool


def check_size(size: int, limits: PhotoLimits) -> None:
    if size == 0:
        raise PhotoRefused(N_("The file is empty."))
    if size > limits.max_bytes:
        raise PhotoRefused(
            N_("The file is larger than %(limit)s MB."), limit=limits.max_bytes // (1024 * 1024)
        )


ORIENTATION_SWAPS = {5, 6, 7, 8}  # these orientations turn the picture a quarter


def open_checked(data: bytes, limits: PhotoLimits) -> Image.Image:
    """The image, header read and checked, not yet decoded."""
    check_size(len(data), limits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(limits) from None
        except UnidentifiedImageError:
            raise PhotoRefused(N_("The file is not a JPEG, PNG or TIFF image.")) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise PhotoRefused(N_("The image file is damaged or incomplete.")) from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise _too_many_pixels(limits)
    if getattr(image, "n_frames", 1) > 1 and image.format != "TIFF":
        raise PhotoRefused(N_("Animated images are not accepted; send one still photo."))
    return image


def _too_many_pixels(limits: PhotoLimits) -> PhotoRefused:
    return PhotoRefused(
        N_("The image has more than %(limit)s million pixels."),
        limit=limits.max_pixels // 1_000_000,
    )


def upright_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in ORIENTATION_SWAPS else (width, height)


def decode(image: Image.Image, wanted: tuple[int, int] | None = None) -> Image.Image:
    """Decode (for a JPEG at the smallest DCT scale still at least `wanted`, in the
    stored orientation), apply the EXIF orientation and make it 8-bit sRGB."""
    if wanted and image.format == "JPEG":
        image.draft("RGB", wanted)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
        raise PhotoRefused(N_("The image file is damaged or incomplete.")) from None
    return to_srgb(upright)


def to_srgb(image: Image.Image) -> Image.Image:
    """8-bit RGB in sRGB: embedded profiles converted, transparency flattened on white."""
    return convert_to_srgb(image, image.info.get("icc_profile"))


def convert_to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """to_srgb with the ICC profile given (None: the plain conversion)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grey: keep the top byte of each 16-bit sample.
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
        mode = "L"
        icc = None
    elif mode == "F":
        image = image.point(lambda value: value * 255).convert("L")
        mode = "L"
        icc = None
    if mode in ("P", "PA"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
        mode = "RGBA"
    if icc and mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if mode == "RGBA":
                image = image.convert("RGB")
            return ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain conversion below
    return image.convert("RGB") if image.mode != "RGB" else image


@lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# --- The crop -----------------------------------------------------------------------


def portrait(width: float) -> tuple[int, int]:
    """The 3:4 box (width, height) of about this width, exactly 3:4 in whole pixels."""
    unit = max(1, round(width / 3))
    return 3 * unit, 4 * unit


def largest_box(width: int, height: int) -> tuple[int, int]:
    """The largest exact 3:4 box inside width × height."""
    unit = min(width // 3, height // 4)
    return 3 * unit, 4 * unit


def centred_box(width: int, height: int, limits: PhotoLimits) -> Box:
    box_width, box_height = largest_box(width, height)
    _check_box_size(box_width, limits)
    return Box((width - box_width) // 2, (height - box_height) // 2, box_width, box_height)


def face_box(width: int, height: int, face: tuple[int, int, int, int], limits: PhotoLimits) -> Box:
    """A portrait around a face (x, y, w, h): the face about half the width, its centre
    a little above the middle, the box kept inside the picture."""
    fx, fy, fw, fh = face
    max_width, max_height = largest_box(width, height)
    box_width, box_height = portrait(max(fw * 2.1, limits.min_side))
    if box_width > max_width:
        box_width, box_height = max_width, max_height
    _check_box_size(box_width, limits)
    centre_x = fx + fw / 2
    centre_y = fy + fh / 2
    left = round(centre_x - box_width / 2)
    top = round(centre_y - box_height * 0.45)
    left = max(0, min(left, width - box_width))
    top = max(0, min(top, height - box_height))
    return Box(left, top, box_width, box_height)


def _check_box_size(box_width: int, limits: PhotoLimits) -> None:
    if box_width < limits.min_side:
        raise PhotoRefused(
            N_("The photo is too small: a portrait needs at least %(width)s × %(height)s pixels."),
            width=limits.min_side,
            height=round(limits.min_side / RATIO),
        )


def chosen_box(key: str, width: int, height: int, limits: PhotoLimits) -> Box:
    """The box a person chose ("left,top,width,height" in the upright original), checked:
    inside the picture, 3:4 (squared up when nearly so), not too small."""
    try:
        left, top, box_width, box_height = (int(part) for part in key.split(","))
    except ValueError:
        raise PhotoRefused(N_("The crop box is not valid.")) from None
    if box_width <= 0 or box_height <= 0 or left < 0 or top < 0:
        raise PhotoRefused(N_("The crop box is not valid."))
    if abs(box_width / box_height - RATIO) > RATIO_TOLERANCE:
        raise PhotoRefused(N_("The crop box must have the proportions of a portrait (3:4)."))
    box_width, box_height = portrait(box_width)
    if left + box_width > width or top + box_height > height:
        # Rounding at the picture's edge: pull the box back inside.
        if left + box_width > width + 2 or top + box_height > height + 2:
            raise PhotoRefused(N_("The crop box goes outside the picture."))
        left = max(0, min(left, width - box_width))
        top = max(0, min(top, height - box_height))
        if box_width > width or box_height > height:
            raise PhotoRefused(N_("The crop box goes outside the picture."))
    _check_box_size(box_width, limits)
    return Box(left, top, box_width, box_height)


@lru_cache(maxsize=1)
def _cascade():
    """OpenCV's frontal-face Haar cascade, from the files inside the package (no network);
    None when OpenCV is not installed (the crop is then centred)."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - an optional dependency
        return None
    # One thread: a worker is one process per core, and threads only fight each other.
    cv2.setNumThreads(1)
    path = f"{cv2.data.haarcascades}haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    return None if cascade.empty() else cascade


def find_face(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The largest face (x, y, w, h) in the image's pixels, or None."""
    cascade = _cascade()
    if cascade is None:
        return None
    import numpy

    # On a grey copy reduced by a whole factor (cheap) to about DETECT_SIDE pixels.
    factor = max(1, round(max(image.size) / DETECT_SIDE))
    small = (image.reduce(factor) if factor > 1 else image).convert("L")
    scale = small.width / image.width
    grey = numpy.asarray(small)
    min_face = max(24, round(min(small.size) * 0.12))
    faces = cascade.detectMultiScale(
        grey, scaleFactor=1.15, minNeighbors=5, minSize=(min_face, min_face)
    )
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda face: face[2] * face[3])
    return (round(x / scale), round(y / scale), round(w / scale), round(h / scale))


# --- The whole processing --------------------------------------------------------------

# How the stored pixels are turned upright for each EXIF orientation (as ImageOps does).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes resized as they are and turned into sRGB afterwards, on the few pixels that are
# left (the others, rare in scans, are made 8-bit sRGB first: Pillow resizes them badly).
LATE_MODES = ("RGB", "L", "CMYK")
# BICUBIC, not LANCZOS: at these reductions (1.5–4×) they differ by less than the JPEG
# encoder's own error (PSNR ≈ 48 dB between the two), and it is a third cheaper.
RESAMPLE = Image.Resampling.BICUBIC


def process(
    data: bytes, limits: PhotoLimits, crop_key: str | None = None, *, detect: bool = True
) -> ProcessedPhoto:
    """The standard photo and thumbnail of an original; `crop_key` None crops around a
    face (or the centre), else the chosen box. Raises PhotoRefused with the reason.

    The picture is decoded once, for a JPEG at the smallest DCT scale that keeps the crop
    at the standard size (1/2, 1/4, 1/8 decode much faster), and is never turned upright
    or converted whole: the preview, the face search and the standard photo are each
    reduced from the stored pixels first and only then turned and made sRGB."""
    image = open_checked(data, limits)
    orientation = _orientation(image)
    stored_size = image.size
    width, height = upright_size(image)
    chosen = chosen_box(crop_key, width, height, limits) if crop_key else None
    # The crop is at most the largest 3:4 box; a smaller one (a face) may need more
    # pixels than this first decode has: then decoded again at the scale it needs.
    box_width = chosen.width if chosen else largest_box(width, height)[0]
    pixels, icc = _decoded(image, stored_size, box_width)
    preview = _finish(_reduced(pixels, PREVIEW_SIDE), orientation, icc)
    face = None
    if chosen is not None:
        box = chosen
    else:
        face = find_face(preview) if detect else None
        if face is not None:
            scale = width / preview.width
            face = tuple(round(v * scale) for v in face)
            box = face_box(width, height, face, limits)
        else:
            box = centred_box(width, height, limits)
    scale = pixels.width / stored_size[0]
    if box.width * scale < STANDARD_SIZE[0] * 0.98 and scale < 1.0:
        pixels, icc = _decoded(open_checked(data, limits), stored_size, box.width)
        scale = pixels.width / stored_size[0]
    region = tuple(v * scale for v in stored_box(box, orientation, *stored_size))
    size = STANDARD_SIZE if orientation not in ORIENTATION_SWAPS else STANDARD_SIZE[::-1]
    standard = pixels.resize(size, RESAMPLE, box=region, reducing_gap=3.0)
    standard = _finish(standard, orientation, icc)
    # A fifth of the standard: halved by a box filter first (Pillow's reducing_gap).
    thumb = standard.resize(THUMB_SIZE, RESAMPLE, reducing_gap=2.0)
    return ProcessedPhoto(
        standard=_jpeg(standard, JPEG_QUALITY),
        thumb=_jpeg(thumb, THUMB_QUALITY),
        preview=_jpeg(preview, THUMB_QUALITY),
        width=width,
        height=height,
        box=box,
        face_found=face is not None,
    )


def _orientation(image: Image.Image) -> int:
    orientation = image.getexif().get(0x0112, 1)
    return orientation if orientation in TRANSPOSE else 1


def _decoded(
    image: Image.Image, stored_size: tuple[int, int], box_width: int
) -> tuple[Image.Image, bytes | None]:
    """The stored pixels, decoded (a JPEG at the smallest scale that keeps `box_width`
    upright pixels at least the standard width), in a mode resized as is, and the ICC
    profile still to apply (None when already applied)."""
    factor = max(STANDARD_SIZE[0] / box_width, 1 / 8)
    if factor < 1 and image.format == "JPEG":
        wanted = (max(1, round(stored_size[0] * factor)), max(1, round(stored_size[1] * factor)))
        image.draft("RGB", wanted)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
        raise PhotoRefused(N_("The image file is damaged or incomplete.")) from None
    if image.mode in LATE_MODES:
        return image, image.info.get("icc_profile")
    return to_srgb(image), None


def _reduced(pixels: Image.Image, longest: int) -> Image.Image:
    """Reduced by the smallest whole factor (a box filter, cheap) to at most `longest`."""
    factor = -(-max(pixels.size) // longest)
    return pixels.reduce(factor) if factor > 1 else pixels


def _finish(pixels: Image.Image, orientation: int, icc: bytes | None) -> Image.Image:
    """Upright and 8-bit sRGB, applying `icc` (the decoded pixels themselves unchanged)."""
    method = TRANSPOSE.get(orientation)
    upright = pixels.transpose(method) if method is not None else pixels
    if upright.mode == "RGB" and not icc:
        return upright
    return convert_to_srgb(upright, icc)


def stored_box(
    box: Box, orientation: int, stored_width: int, stored_height: int
) -> tuple[int, int, int, int]:
    """An upright box (left, top, right, bottom) in the stored pixels' coordinates."""
    left, top = box.left, box.top
    right, bottom = box.left + box.width, box.top + box.height
    w, h = stored_width, stored_height
    corners = {
        1: lambda x, y: (x, y),
        2: lambda x, y: (w - x, y),
        3: lambda x, y: (w - x, h - y),
        4: lambda x, y: (x, h - y),
        5: lambda x, y: (y, x),
        6: lambda x, y: (y, h - x),
        7: lambda x, y: (w - y, h - x),
        8: lambda x, y: (w - y, x),
    }[orientation]
    (x1, y1), (x2, y2) = corners(left, top), corners(right, bottom)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    # Nothing from the original travels along: no EXIF, no ICC profile, no comments
    # (Pillow would write the original's JPEG comment from `info` again).
    image.info = {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


def peek_size(data: bytes, limits: PhotoLimits) -> tuple[int, int]:
    """The upright size of an acceptable image (header only), or PhotoRefused."""
    return upright_size(open_checked(data, limits))

"""Real image, PDF and ZIP files made in the tests: good photos, every EXIF orientation,
odd colour modes, and hostile files (truncated, bombs, lies about their type)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw, ImageFilter

# The upright test picture: four coloured quadrants (which way up it is shows in the result).
QUADRANTS = {
    "top_left": (220, 30, 30),
    "top_right": (30, 180, 30),
    "bottom_left": (30, 30, 220),
    "bottom_right": (240, 240, 240),
}


def quadrants(width: int = 300, height: int = 400) -> Image.Image:
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    half_w, half_h = width // 2, height // 2
    draw.rectangle([0, 0, half_w - 1, half_h - 1], fill=QUADRANTS["top_left"])
    draw.rectangle([half_w, 0, width - 1, half_h - 1], fill=QUADRANTS["top_right"])
    draw.rectangle([0, half_h, half_w - 1, height - 1], fill=QUADRANTS["bottom_left"])
    draw.rectangle([half_w, half_h, width - 1, height - 1], fill=QUADRANTS["bottom_right"])
    return image


# How the stored pixels relate to the upright picture for each EXIF orientation (EXIF 2.3,
# tag 0x0112): the transform that turns the upright picture into what the camera stored.
STORED_FROM_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored turned a quarter anticlockwise; shown clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def jpeg(image: Image.Image, quality: int = 92, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **params)
    return out.getvalue()


def png(image: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **params)
    return out.getvalue()


def tiff(image: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, "TIFF", **params)
    return out.getvalue()


def oriented_jpeg(orientation: int, width: int = 300, height: int = 400) -> bytes:
    """A JPEG whose pixels are stored turned/flipped, with the EXIF tag that says so, and
    GPS-like metadata and a comment that must not survive."""
    upright = quadrants(width, height)
    transform = STORED_FROM_UPRIGHT[orientation]
    stored = upright.transpose(transform) if transform is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCamera"  # Make
    exif[0x9286] = "secret comment"  # UserComment
    return jpeg(stored, exif=exif.tobytes(), comment=b"private note")


def cmyk_jpeg() -> bytes:
    return jpeg(quadrants().convert("CMYK"))


def cmyk_tiff() -> bytes:
    return tiff(quadrants().convert("CMYK"))


def grey16_png(width: int = 300, height: int = 400) -> bytes:
    """A 16-bit greyscale PNG: top half bright, bottom half dark."""
    image = Image.new("I;16", (width, height), 60000)
    ImageDraw.Draw(image).rectangle([0, height // 2, width, height], fill=5000)
    return png(image)


def rgb16_png(width: int = 300, height: int = 400) -> bytes:
    """A 16-bit-per-channel RGB PNG written by hand (Pillow writes no such file)."""
    rows = []
    for y in range(height):
        red = 65535 if y < height // 2 else 0
        blue = 0 if y < height // 2 else 65535
        row = struct.pack(">" + "HHH" * width, *([red, 0, blue] * width))
        rows.append(b"\x00" + row)
    return _png_file(width, height, bit_depth=16, colour_type=2, raw=b"".join(rows))


def grey16_tiff(width: int = 300, height: int = 400) -> bytes:
    image = Image.new("I;16", (width, height), 50000)
    return tiff(image)


def palette_with_transparency() -> bytes:
    """A palette PNG whose top half is a transparent black entry (must come out white)."""
    image = quadrants().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette = image.getpalette()[: 4 * 3]
    image.putpalette([*palette, 0, 0, 0])  # entry 4: black, and transparent
    transparent_index = 4
    ImageDraw.Draw(image).rectangle([0, 0, image.width, image.height // 2 - 1], fill=4)
    return png(image, transparency=transparent_index)


def truncated_jpeg() -> bytes:
    whole = jpeg(quadrants(600, 800))
    return whole[: len(whole) // 2]


def text_named_jpg() -> bytes:
    return "Đây là một tệp văn bản, không phải ảnh.\n".encode() * 50


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_file(width: int, height: int, *, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw, 9))
        + _png_chunk(b"IEND", b"")
    )


def decompression_bomb() -> bytes:
    """A PNG that claims 100,000 × 100,000 pixels (10 gigapixels) in a few hundred bytes:
    Pillow's own guard must stop it before any decoding."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    row = b"\x00" * 1001
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * 10, 9))
        + _png_chunk(b"IEND", b"")
    )


def huge_dimension_png(side: int = 12_000) -> bytes:
    """A real, complete, all-black PNG of side × side (144 MP) that is only ~150 KB."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def drawn_face(
    width: int = 1600, height: int = 1200, centre: tuple[int, int] = (1100, 520), size: int = 200
) -> Image.Image:
    """A drawn portrait that OpenCV's frontal-face cascade finds: hair, face, eyes with
    brows, nose, mouth, shoulders, slightly blurred like a scan."""
    cx, cy = centre
    s = size
    image = Image.new("RGB", (width, height), (200, 210, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse([cx - s * 1.05, cy - s * 1.45, cx + s * 1.05, cy + s * 0.6], fill=(40, 30, 25))
    draw.ellipse([cx - s * 0.85, cy - s * 1.1, cx + s * 0.85, cy + s * 1.15], fill=(225, 185, 150))
    draw.rectangle([cx - s * 0.35, cy + s * 1.0, cx + s * 0.35, cy + s * 1.6], fill=(215, 175, 140))
    draw.ellipse([cx - s * 1.8, cy + s * 1.4, cx + s * 1.8, cy + s * 3.5], fill=(30, 40, 90))
    for side in (-1, 1):
        ex = cx + side * s * 0.35
        draw.rectangle(
            [ex - s * 0.22, cy - s * 0.42, ex + s * 0.22, cy - s * 0.34], fill=(50, 35, 30)
        )
        draw.ellipse([ex - s * 0.16, cy - s * 0.25, ex + s * 0.16, cy - s * 0.08], fill="white")
        draw.ellipse(
            [ex - s * 0.08, cy - s * 0.24, ex + s * 0.08, cy - s * 0.09], fill=(30, 20, 20)
        )
    draw.polygon(
        [(cx, cy - s * 0.1), (cx - s * 0.12, cy + s * 0.3), (cx + s * 0.12, cy + s * 0.3)],
        fill=(200, 150, 120),
    )
    draw.ellipse([cx - s * 0.3, cy + s * 0.5, cx + s * 0.3, cy + s * 0.65], fill=(150, 60, 60))
    return image.filter(ImageFilter.GaussianBlur(s / 40))


def scan_photo(width: int = 2000, height: int = 1500, seed: int = 0) -> bytes:
    """A scanner-like JPEG with a face somewhere (the benchmark's and the batch's files)."""
    cx = width // 2 + ((seed * 137) % (width // 3)) - width // 6
    size = min(width, height) // 6
    return jpeg(drawn_face(width, height, (cx, height // 2 - size // 2), size), quality=90)


def multi_page_pdf(pages: int = 3) -> bytes:
    """A real PDF with `pages` pages (a scanned document), written with Pillow."""
    images = []
    for number in range(pages):
        page = Image.new("RGB", (620, 877), "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle([40, 40, 580, 120], outline="black", width=4)
        draw.text((60, 70), f"Trang {number + 1}", fill="black")
        images.append(page)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def zip_of(entries: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, data)
    return out.getvalue()


def zip_bomb_entry(size: int = 600 * 1024 * 1024) -> tuple[str, bytes]:
    """A single compressed member that inflates to `size` bytes of zeros (deflate ~1000:1);
    returned as raw ZIP bytes of one entry named like a photo."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1 << 20)
    compressed = b"".join(compressor.compress(chunk) for _ in range(size // len(chunk)))
    compressed += compressor.flush()
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return compressed, crc


def zip_with_bomb(name: str = "000001TN.jpg", size: int = 600 * 1024 * 1024) -> bytes:
    """A ZIP whose one member, a few hundred KB, unpacks to `size` bytes."""
    compressed, crc = zip_bomb_entry(size)
    encoded = name.encode()
    local = (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0,
            8,
            0,
            0x21,
            crc & 0xFFFFFFFF,
            len(compressed),
            size,
            len(encoded),
            0,
        )
        + encoded
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc & 0xFFFFFFFF,
            len(compressed),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + encoded
    )
    offset = len(local) + len(compressed)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0)
    return local + compressed + central + end

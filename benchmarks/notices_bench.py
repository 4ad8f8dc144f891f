"""Benchmark: render every notice of the example in five languages and three formats.

Target (issue 3): under 1 s for the whole set. Printed with a baseline from the same run
(loading and linting the manifest), so a slow machine shows up in both figures.

    .venv/bin/python benchmarks/notices_bench.py [path/to/pledge.yaml] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pledge.manifest.load import load_manifest
from pledge.notices import build_view, render_view

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lumen" / "pledge.yaml"
FORMATS = ("html", "md", "txt")
TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="?", default=str(EXAMPLE))
    parser.add_argument("--repeat", type=int, default=3, help="warm runs after the first")
    args = parser.parse_args()

    start = time.perf_counter()
    manifest = load_manifest(args.manifest)
    load_s = time.perf_counter() - start
    count = len(manifest.notices) * len(manifest.languages) * len(FORMATS)

    def render_all() -> tuple[float, float]:
        began, cpu = time.perf_counter(), time.process_time()
        for key in manifest.notices:
            view = build_view(manifest, key)
            for lang in manifest.languages:
                for fmt in FORMATS:
                    render_view(view, lang, fmt)
        return time.perf_counter() - began, time.process_time() - cpu

    # The first run also compiles the templates and loads the catalogs and CLDR data.
    cold, cold_cpu = render_all()
    warm, warm_cpu = min(render_all() for _ in range(max(args.repeat, 1)))
    print(f"manifest:  {args.manifest}")
    print(
        f"documents: {count} ({len(manifest.notices)} notices x {len(manifest.languages)} "
        f"languages x {len(FORMATS)} formats)"
    )
    print(f"baseline:  load + lint manifest   {load_s * 1000:7.1f} ms")
    print(
        f"cold:      render all documents   {cold * 1000:7.1f} ms  (cpu {cold_cpu * 1000:.1f} ms)"
    )
    print(
        f"warm:      render all documents   {warm * 1000:7.1f} ms  (cpu {warm_cpu * 1000:.1f} ms)"
    )
    print(f"per doc:   {warm / count * 1000:.1f} ms warm")
    print(f"target:    < {TARGET_S:.0f} s: cold {_verdict(cold)}, warm {_verdict(warm)}")


def _verdict(seconds: float) -> str:
    return "ok" if seconds < TARGET_S else "SLOW"


if __name__ == "__main__":
    main()

"""Run every ``bench/bench_*.py`` module, write ``bench/results.json`` and print a table.

Each module defines ``run(quick: bool = False) -> list[dict]``; each dict is one measurement:
``name``, ``value``, ``unit``, ``baseline`` (what it is compared with, or None), ``ratio`` (value against
that baseline measured in the same run, or None), ``target`` (the issue's target, as text) and ``ok``.
``--quick`` is the fast smoke run CI uses: small sizes, figures not meaningful, only that it runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run with small sizes")
    ap.add_argument("--only", default="", help="substring of the bench module names to run")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args(argv)

    rows: list[dict] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in path.stem:
            continue
        t0 = time.perf_counter()
        mod = _load(path)
        for row in mod.run(quick=args.quick):
            row.setdefault("module", path.stem)
            rows.append(row)
        print(f"# {path.stem}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    out = {
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": rows,
    }
    if not args.quick:
        Path(args.out).write_text(json.dumps(out, indent=2))
    _table(rows)
    failed = [r for r in rows if not r.get("ok", True)]
    if failed and not args.quick:
        print(f"{len(failed)} target(s) missed", file=sys.stderr)
    return 0


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _table(rows: list[dict]) -> None:
    cols = ["module", "name", "value", "unit", "baseline", "ratio", "target", "ok"]
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    raise SystemExit(main())

"""Every Bicep file under infra/ parses with checkov's own Bicep parser.

checkov reports a file it can't parse as a "parsing error" and still exits 0, so a template
written with syntax its parser doesn't know would silently escape every check. Run with the
infra venv's Python (``make infra-check``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pycep import BicepParser  # type: ignore[import-not-found]


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.rglob("*.bicep"))
    parser = BicepParser()
    failed = []
    for path in files:
        try:
            parser.parse(file_path=path)
        except Exception as exc:
            failed.append(f"{path.relative_to(root.parent)}: {str(exc).splitlines()[0]}")
    for line in failed:
        print(f"checkov's Bicep parser can't read {line}", file=sys.stderr)
    print(f"{len(files) - len(failed)}/{len(files)} Bicep files parse with checkov's parser")
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main())

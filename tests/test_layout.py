"""The repository reads on its own: README's layout table matches the tree, docs link only inside it,
and the one-way import rule really fails on an import against its direction."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
def layout_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1]
    return section.split("\n## ", 1)[0]


def tracked_top_level() -> set[str]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {line.split("/", 1)[0] + ("/" if "/" in line else "") for line in names.splitlines()}


def test_every_path_the_layout_table_names_exists_and_every_package_is_in_it() -> None:
    table = layout_table()
    named = set(re.findall(r"^\| `([^`]+)`", table, re.M)) | set(re.findall(r"^\| `[^`]+`, `([^`]+)`", table, re.M))
    assert named, "README has no layout table"
    for path in named:
        assert (ROOT / path.rstrip("/")).exists(), f"README's layout table names {path}, which is not in the tree"
    packages = {name for name in tracked_top_level() if name.endswith("/") and not name.startswith(".")}
    packages |= {f"failover/{p.name}/" for p in (ROOT / "failover").iterdir() if (p / "__init__.py").exists()}
    missing = sorted(packages - named)
    assert not missing, f"README's layout table does not list {missing}"


def test_docs_link_only_inside_the_repository() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{doc.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an external URL (Microsoft's docs), not a path
            assert (doc.parent / target).resolve().exists(), f"{doc.name} links {target}, which does not exist"


def test_the_import_rule_fails_on_an_import_against_its_direction(tmp_path: Path) -> None:
    """Copy the packages, make the core import the drill, and lint-imports must refuse it."""
    for name in ("hubfailover", "rehearsal", "replayhost", "triggers", "orchestrations", "activities", "failover"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}

    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    model = tmp_path / "failover" / "domain" / "model.py"
    model.write_text(model.read_text(encoding="utf-8") + "\nimport rehearsal.drill  # noqa\n", encoding="utf-8")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert broken.returncode != 0
    assert "failover.domain.model -> rehearsal.drill" in broken.stdout

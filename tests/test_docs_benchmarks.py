"""docs/benchmarks.md names only benchmarks that exist and cites only documents in the repository."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def _benchmark_tests() -> set[str]:
    names = set()
    for path in (ROOT / "benchmarks").glob("bench_*.py"):
        tree = ast.parse(path.read_text())
        names |= {
            n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        }
    return names


def test_every_named_benchmark_exists():
    text = DOC.read_text()
    # Test files of the suite may be cited by path (they must exist); other names are benchmarks.
    for path in set(re.findall(r"\btests/[\w/]+\.py\b", text)):
        assert (ROOT / path).is_file(), f"{path} is not in the repository"
    text = re.sub(r"\btests/[\w/]+\.py\b", "", text)
    named = set(re.findall(r"\btest_[a-z0-9_]+", text))
    assert named, "docs/benchmarks.md names no benchmark"
    missing = named - _benchmark_tests()
    assert not missing, f"named but not in benchmarks/: {sorted(missing)}"
    for suite in set(re.findall(r"bench_[a-z_]+\.py", text)):
        assert (ROOT / "benchmarks" / suite).is_file(), suite


def test_cites_only_documents_in_the_repository():
    for doc in set(re.findall(r"[\w./-]+\.md\b", DOC.read_text())):
        assert (ROOT / doc).is_file() or (DOC.parent / doc).is_file(), f"{doc} is not in the repository"


def test_every_figure_section_says_where_its_figures_come_from():
    """Each section with a number in it names a benchmark or a command, or marks it quoted."""
    sections = re.split(r"\n(?=#{2,3} )", DOC.read_text())
    for section in sections[1:]:
        if re.search(r"\d+(\.\d+)?\s?(µs|ms|s|MiB|%)\b", section):
            title = section.splitlines()[0]
            assert re.search(r"test_|bench_|`samurai |\*\*quoted\*\*", section, flags=re.I), title

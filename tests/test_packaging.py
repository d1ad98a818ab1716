"""Every installed top-level import name carries the project's name (docs/architecture.md).

The wheel's package list is what setuptools finds from ``pyproject.toml``; a bare ``backends``
package in site-packages would squat a generic name, so the folder ``backends/`` must stay a plain
folder whose sub-packages install under their own ``samurai_*`` names.
"""

from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def _packages():
    cfg = read_configuration(ROOT / "pyproject.toml", expand=True, ignore_option_errors=False)
    return cfg["tool"]["setuptools"]["packages"], cfg["tool"]["setuptools"].get("package-dir", {})


def test_installed_top_level_names_carry_the_project_name():
    packages, _ = _packages()
    top = {p.split(".")[0] for p in packages}
    assert top == {
        "samurai",
        "samurai_core",
        "samurai_sam2",
        "samurai_hf",
        "samurai_phantom",
        "samurai_common",
    }


def test_every_backend_folder_is_installed_under_its_own_name():
    packages, package_dir = _packages()
    assert not (ROOT / "backends" / "__init__.py").exists()
    folders = {p.name for p in (ROOT / "backends").iterdir() if (p / "__init__.py").exists()}
    assert folders <= set(packages), f"backends not installed: {folders - set(packages)}"
    for name in folders:
        assert Path(package_dir[name]) == Path("backends") / name

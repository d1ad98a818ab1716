"""Every exception class the project defines is either a user error (exit 2 with its message) or
listed as not one, with why (``samurai.errors_map``); found by reading the source, so a class
added tomorrow fails here until it is placed."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import pytest

from samurai.errors_map import NOT_USER_ERRORS, USER_ERRORS, user_error_message

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "samurai", ROOT / "samurai_core", *sorted((ROOT / "backends").glob("samurai_*"))]
BUILTIN_BASES = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[1:] if parts[0] == "backends" else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_exception_classes() -> set[str]:
    """``module.Class`` of every class in the project deriving from an exception, directly
    (a built-in exception or warning base, or a library's ``...Error``) or through another
    project class."""
    classes: dict[str, tuple[str, list[str]]] = {}  # name -> (qualified, base names)
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    bases = [
                        b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases
                    ]
                    classes[f"{_module_name(path)}.{node.name}"] = (node.name, bases)
    found: set[str] = set()
    names: set[str] = set(BUILTIN_BASES)
    changed = True
    while changed:
        changed = False
        for qualified, (name, bases) in classes.items():
            if qualified not in found and any(
                b in names or b.endswith(("Error", "Exception")) for b in bases
            ):
                found.add(qualified)
                names.add(name)
                changed = True
    return found


def test_the_walk_finds_the_known_classes():
    """The finder is not vacuous: it sees classes several levels down and in the backends."""
    found = project_exception_classes()
    for name in (
        "samurai.data._base.DatasetError",
        "samurai_common.frame_source.VideoEndedEarly",
        "samurai.output.OutputError",
        "samurai.cli.Terminated",
    ):
        assert name in found
    assert len(found) >= 14


def test_every_exception_class_is_placed():
    found = project_exception_classes()
    unplaced = sorted(found - set(USER_ERRORS) - set(NOT_USER_ERRORS))
    assert not unplaced, f"add these to samurai/errors_map.py (USER_ERRORS or NOT_USER_ERRORS): {unplaced}"
    stale = sorted((set(USER_ERRORS) | set(NOT_USER_ERRORS)) - found)
    assert not stale, f"no longer defined: {stale}"
    assert not set(USER_ERRORS) & set(NOT_USER_ERRORS)


def _instance(qualified: str, message: str) -> BaseException:
    module, _, name = qualified.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    try:
        return cls(message)
    except TypeError:  # VideoEndedEarly(name, frames_read, frames_announced, reason)
        return cls("clip.mp4", 3, 10, message)


@pytest.mark.parametrize("qualified", sorted(USER_ERRORS))
def test_each_user_error_maps_to_its_message(qualified):
    pytest.importorskip("torch")
    if qualified.startswith("samurai_hf"):
        pytest.importorskip("transformers")
    message = f"{qualified.rsplit('.', 1)[1]}: cannot read /data/x.png; re-export it"
    assert user_error_message(_instance(qualified, message)) == message


def test_subclasses_map_and_bugs_do_not():
    from samurai.data import DatasetError

    class Narrower(DatasetError):
        pass

    assert user_error_message(Narrower("labels.json is damaged")) == "labels.json is damaged"
    for bug in (KeyError("x"), ValueError("x"), RuntimeError("x"), ZeroDivisionError()):
        assert user_error_message(bug) is None


@pytest.mark.parametrize("qualified", sorted(USER_ERRORS))
def test_the_command_line_maps_each_user_error_to_exit_2(qualified, monkeypatch, capsys):
    """An error of any listed class escaping a command is exit 2 with its message and no
    traceback, through the one handler in samurai/cli.py (a bug still raises)."""
    pytest.importorskip("torch")
    if qualified.startswith("samurai_hf"):
        pytest.importorskip("transformers")
    import samurai.commands.report as report
    from samurai.cli import main

    message = f"{qualified.rsplit('.', 1)[1]}: cannot read /data/x.png; re-export it"

    def failing(args):
        raise _instance(qualified, message)

    monkeypatch.setattr(report, "run", failing)
    assert main(["report", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"samurai report: error: {message}"
    assert "Traceback" not in err


def test_the_command_line_lets_a_bug_through(monkeypatch):
    import samurai.commands.report as report
    from samurai.cli import main

    monkeypatch.setattr(report, "run", lambda args: {}["a bug"])
    with pytest.raises(KeyError):
        main(["report", "somewhere"])

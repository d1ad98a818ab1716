"""Every link between the markdown files of README.md and docs/ resolves: the file exists and,
for ``file.md#anchor`` or ``#anchor``, a heading of that file has that anchor.

Anchors are made as GitHub makes them, restated here from its documented behaviour: the
heading's text in lower case, with markup (backticks, emphasis, link syntax) dropped, every
character that is not a letter, digit, space, hyphen or underscore removed, spaces turned into
hyphens; a repeated anchor gets ``-1``, ``-2``, ... in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks (a link-like string in code is not a link)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(path.read_text()).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return found


def test_slugs_follow_the_documented_rules():
    assert (
        slug("Learned chamber prompts on phantoms (`samurai train --prompts learned`)")
        == "learned-chamber-prompts-on-phantoms-samurai-train---prompts-learned"
    )
    assert slug("`samurai track VIDEO`") == "samurai-track-video"
    assert slug("Model, input size and device") == "model-input-size-and-device"
    assert slug("1. Track a video with SAM 2 + SAMURAI") == "1-track-a-video-with-sam-2--samurai"


def _links():
    for path in FILES:
        for target in LINK.findall(_prose(path.read_text())):
            if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                continue
            yield pytest.param(path, target, id=f"{path.relative_to(ROOT)}->{target}")


@pytest.mark.parametrize("source, target", list(_links()))
def test_link_resolves(source, target):
    file_part, _, anchor = target.partition("#")
    dest = (source.parent / file_part).resolve() if file_part else source
    assert dest.exists(), f"{source.name}: {target}: no such file"
    if anchor and dest.suffix == ".md":
        assert anchor in anchors(dest), f"{source.name}: {target}: no heading with that anchor in {dest.name}"

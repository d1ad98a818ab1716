"""Test files are collected by basename (tests/ folders are not packages): two files with one
name in two folders stop the whole collection, so a duplicate fails here first, by name."""

from collections import Counter
from pathlib import Path


def test_test_file_basenames_are_unique():
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []

"""Task traits: declared on the task, read with their defaults by `traits_of` only, checked once."""

from __future__ import annotations

import re

import pytest

from saneloop.errors import InputError
from saneloop.tasks import CharLM, Classify, Regress, TaskTraits, traits_of
from tests.conftest import REPO


def test_the_built_in_tasks_declare_where_they_differ_from_the_defaults():
    assert traits_of(CharLM(65)) == TaskTraits(
        higher_is_better=False, ignore_index=-100, token_vocabulary=True, head_bias_optional=True
    )
    assert traits_of(Classify(10)) == TaskTraits(ignore_index=-100)
    assert traits_of(Classify(10, ignore_index=None)) == TaskTraits()
    assert traits_of(Regress()) == TaskTraits()


def test_a_users_task_that_declares_nothing_gets_the_defaults_and_a_wrong_type_is_refused():
    class Mine:
        name = "mine"

    assert traits_of(Mine()) == TaskTraits()
    Mine.higher_is_better = "no"
    with pytest.raises(InputError, match=r"higher_is_better='no'; it must be True or False"):
        traits_of(Mine())
    Mine.higher_is_better, Mine.ignore_index = False, 1.5
    with pytest.raises(InputError, match=r"ignore_index=1.5; it must be an integer or None"):
        traits_of(Mine())


def test_stages_and_checks_read_traits_only_through_traits_of():
    read = re.compile(r"(getattr|hasattr)\((built\.)?task\b")
    found = [
        p.relative_to(REPO)
        for folder in ("stages", "checks")
        for p in (REPO / "saneloop" / folder).rglob("*.py")
        if read.search(p.read_text())
    ]
    assert not found, f"read a task's traits with traits_of, not getattr: {found}"

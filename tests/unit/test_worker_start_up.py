"""The worker's start-up shortcut around Scrapy's deprecated-class machinery (`crawler.child`)."""

from __future__ import annotations

import inspect

import pytest

from crawler.child import _stack_without_source


def test_the_stack_without_source_names_the_same_frames_files_lines_and_functions() -> None:
    here = inspect.currentframe()

    def look(cheap: bool) -> list[tuple[object, ...]]:
        if cheap:
            with _stack_without_source():
                stack = inspect.stack()
        else:
            stack = inspect.stack(context=0)
        return [(f.frame.f_code, f.filename, f.lineno, f.function, f.code_context) for f in stack[1:]]

    assert look(cheap=True) == look(cheap=False)
    with _stack_without_source():
        stack = inspect.stack()
    assert stack[0].frame is here and stack[0].function == here.f_code.co_name
    assert stack[0].filename == __file__ and stack[0].code_context is None
    module = inspect.getmodule(stack[0].frame)  # what Scrapy asks of it
    assert module is not None and module.__name__ == __name__


def test_the_full_stack_is_back_after_the_block_even_when_it_raises() -> None:
    original = inspect.stack
    with pytest.raises(RuntimeError), _stack_without_source():
        assert inspect.stack is not original
        raise RuntimeError("boom")
    assert inspect.stack is original
    assert inspect.stack()[0].code_context is not None  # source lines again

"""English rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for

only = only_for("en")


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("sco", "lexical", "I know the small church.", "I ken the wee kirk."),
    ("sco", "lexical", "What did you see?", "Whit did you see?"),
    ("sco", "phonological", "Go down to the old town.", "Gang doon tae the auld toon."),
    ("sco", "morphosyntactic", "They were late.", "They was late."),
    ("sco", "code_switching", "Welcome home!", "Fàilte home!"),
    ("sus", "lexical", "Those dogs are not tired.", "Them dogs ain't plumb tired."),
    ("sus", "morphosyntactic", "What did they buy?", "What'd they buy?"),
    ("sus", "morphosyntactic", "He didn't say anything.", "He didn't say nothing."),
    ("sus", "phonological", "They are walking.", "They are walkin'."),
    ("net", "lexical", "Thanks, see you tomorrow.", "Thx, see u tmrw."),
    ("net", "orthographic", "I don't think it's late.", "I dont think its late."),
    ("net", "code_switching", "By the way, it works.", "Btw, it works."),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected

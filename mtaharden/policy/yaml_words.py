"""YAML syntax errors said in the terms of someone editing a policy file, with the usual fix.

The YAML reader reports its own grammar (``expected <block end>, but found '<block mapping start>'``);
each entry here turns one such report into what the editor did (an indentation that does not line up,
a tab, an unclosed quote) and what to do. A report not listed keeps the reader's words.
"""

from __future__ import annotations

# (words in the reader's report, what it means, the fix): the first entry found in the report is used
_MEANINGS = (
    ("expected <block end>, but found", "this line is indented differently from the lines beside it",
     "start the keys of one mapping (and the items of one list) in the same column, and indent a key's "
     "value further than the key; use spaces only"),
    ("mapping values are not allowed here", "a ':' where no key can start: a value holding ': ', or a key "
     "indented under a value", "quote a value that holds ': ' (\"a: b\"), or indent the key like the keys beside it"),
    ("could not find expected ':'", "a line without the ':' of a key",
     "write key: value, or put a continued value on the line of its key"),
    ("did not find expected key", "a line here that is neither a key nor a list item of the mapping around it",
     "indent it like the keys beside it, or start a list item with '- '"),
    ("did not find expected '-' indicator", "a line inside a list that is not a list item",
     "start every item of a list with '- ' in the same column"),
    ("expected ',' or ']'", "a [ … ] list that is not closed or whose items are not separated by commas",
     "close the list with ] and separate its items with ', '"),
    ("expected ',' or '}'", "a { … } mapping that is not closed or whose entries are not separated by commas",
     "close the mapping with } and separate its entries with ', '"),
    ("while scanning a quoted scalar", "a quote that is never closed", "close the quoted text on the same line"),
    ("found unexpected end of stream", "a quote or bracket that is never closed",
     "close the quoted text or the bracket it opens"),
    ("found unknown escape character", "a backslash in double quotes that YAML does not know",
     "use single quotes for text with backslashes (a regular expression: '\\d+')"),
)


def meaning(report: str) -> tuple[str, str] | None:
    """(what it means, the fix) for a YAML reader's report, or None when it is not one of the usual ones."""
    return next(((what, fix) for words, what, fix in _MEANINGS if words in report), None)

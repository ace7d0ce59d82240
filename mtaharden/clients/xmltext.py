"""XML laid out with ElementTree (so every value is escaped by the library) under mtaharden's header comment."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..render import HEADER_TEXT


def document(root: ET.Element) -> str:
    """The tree as UTF-8 XML text: declaration, the generated-file comment, the tree indented."""
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' f"<!-- {HEADER_TEXT} -->\n"
            + ET.tostring(root, encoding="unicode") + "\n")


def child(parent: ET.Element, tag: str, text: str | int | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = str(text)
    return element

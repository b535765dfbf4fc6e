"""Files connector: a folder tree of Markdown, text, HTML, PDF and DOCX documents, with access
rules written next to them (``_acl.yaml``, front matter) and groups in ``groups.yaml``."""

from .connector import FilesConnector
from .parsers import ParseError
from .rules import RuleError

__all__ = ["FilesConnector", "ParseError", "RuleError"]

"""Files connector: a folder tree of Markdown, text, HTML, PDF and DOCX documents, with access
rules written next to them (``_acl.yaml``, front matter) and groups in ``groups.yaml``. The
documents themselves are read by the shared parsers in connectors.parsers."""

from .connector import FilesConnector
from .rule_yaml import RuleError

__all__ = ["FilesConnector", "RuleError"]

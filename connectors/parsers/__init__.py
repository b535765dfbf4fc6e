"""Document parsers shared by every connector: bytes of a PDF, DOCX, HTML, Markdown or text file
-> title and heading-structured sections (``parsed.Parsed``), one module per format, found by
extension in ``by_extension.PARSERS``; the limits an Office package must respect before it is
opened (``ooxml_limits``); and the worker process that runs a parser within a time, memory and
text budget (``sandbox``)."""

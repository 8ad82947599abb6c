"""Word reports built with python-docx. Builders return Documents; ``save_docx`` writes."""

from evalkit.report.overview import overview_report

__all__ = ["overview_report"]

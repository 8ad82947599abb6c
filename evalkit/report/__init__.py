"""Word reports built with python-docx. Builders return Documents; ``save_docx`` writes."""

from evalkit.report.evaluation import evaluation_report
from evalkit.report.overview import overview_report

__all__ = ["evaluation_report", "overview_report"]

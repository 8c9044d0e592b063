"""What a run leaves behind: report.json/report.md, TensorBoard, the terminal, figures, atomic files."""

from .report import Report
from .run_record import RunRecord

__all__ = ["Report", "RunRecord"]

"""reports: run and portfolio reports (PNG charts and one self-contained HTML page)."""

from reports.render import RenderedReport, render_portfolio_report, render_run_report

__all__ = ["RenderedReport", "render_portfolio_report", "render_run_report"]

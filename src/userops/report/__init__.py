"""The HTML report's view-model (issue: report)."""

"""The migration doctor: finds legacy livekit-agents patterns in any agent, and fixes the mechanical ones.

`examine(paths)` audits files and returns a `Report`; `main(argv)` is `python -m concierge doctor`.
The rule catalogue is `rules`, the syntax-tree checks `checks`, safe file reading `files`, the
renderings (text, markdown, HTML, JSON, SARIF) `render`, the libcst rewrites `fix`, and the
strict-schema check (what OpenAI's strict mode would reject) `strict_schema`. Nothing in the
agent imports the doctor.
"""

from .audit import Report, examine, main
from .checks import check_source
from .rules import RULES, Finding

__all__ = ["RULES", "Finding", "Report", "check_source", "examine", "main"]

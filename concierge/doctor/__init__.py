"""The migration doctor: finds legacy livekit-agents patterns in any agent module.

`examine(paths)` audits files and returns a `Report`; `main(argv)` is `python -m concierge doctor`.
Its rules live in `rules`, the strict-schema check (what OpenAI's strict mode would reject) in
`strict_schema`. Nothing in the agent imports the doctor.
"""

from .audit import Report, examine, main, python_files
from .rules import RULES, Finding, check_source

__all__ = ["RULES", "Finding", "Report", "check_source", "examine", "main", "python_files"]

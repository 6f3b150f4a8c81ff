"""The contract report's format: what `pytest --glm-report` writes (harness._outcomes, the
plugin's recorder) and what `compare`, `summary` and `report` read. One definition, so that a
reader never has to import the plugin's private modules to know the version it reads."""

from __future__ import annotations

from typing import Final

KIND: Final = "contract"
SCHEMA_VERSION: Final = "1.0"

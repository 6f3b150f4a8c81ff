"""What `glm-harness report` reads: any mix of the harness's JSON documents, each recognised by
its `kind` (or, for the proxy and agent-bench reports, by its shape), each refused with one line.

* bench reports and contract reports are read by `harness.compare.load`, which vets them (schema
  version, schema) exactly as `glm-harness compare` does;
* compare results (`glm-harness compare --json`) are kept as the JSON they are;
* a proxy report (a document with an `exchanges` list) and an agent-bench report (a `tasks` list
  whose items say `solved`) are shown by their shape: their schemas are not this module's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from .._files import read_input
from .._jsonload import JSONTooComplex, loads
from ..compare.load import CONTRACT_KIND, Loaded, load
from ..compare.load import Kind as LoadedKind
from ..compare.render import COMPARE_KIND
from ..errors import UsageError

Kind = Literal["bench", "contract", "compare", "proxy", "agent"]


@dataclass
class Input:
    path: Path
    kind: Kind
    data: dict[str, Any] = field(repr=False)
    loaded: Loaded | None = None  # bench and contract reports, vetted

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        if self.loaded is not None:
            return self.loaded.model
        return str(self.data.get("model") or (self.data.get("meta") or {}).get("model") or "?")


def _raw(path: Path) -> dict[str, Any]:
    raw = read_input(path)  # a regular file, under the input limit, or one line
    try:
        data = loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{path}: not a JSON report (invalid JSON)") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: not a glm-harness report ({error})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a glm-harness report (the JSON is not an object)")
    return data


def _is_list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def read(path: str | Path) -> Input:
    """One file as an `Input`, or UsageError saying in one line why not."""
    path = Path(path)
    data = _raw(path)
    kind = data.get("kind")
    if kind == "glm-harness.bench":
        return Input(path, "bench", data, load(path))
    if kind == CONTRACT_KIND:
        return Input(path, "contract", data, load(path))
    if kind == COMPARE_KIND:
        if not _is_list_of_objects(data.get("comparisons")):
            raise UsageError(f"{path}: a compare result without a list of comparisons")
        return Input(path, "compare", data)
    if _is_list_of_objects(data.get("exchanges")):
        return Input(path, "proxy", data)
    tasks = data.get("tasks")
    if isinstance(tasks, list) and tasks and _is_list_of_objects(tasks) and all("solved" in t for t in tasks):
        # vetted and compared like the others once harness.compare reads agent-bench reports
        vetted = load(path) if kind in get_args(LoadedKind) else None
        return Input(path, "agent", data, vetted)
    raise UsageError(f"{path}: not a report glm-harness can show (kind {kind!r}; expected a bench, "
                     "contract, compare, proxy or agent-bench report)")

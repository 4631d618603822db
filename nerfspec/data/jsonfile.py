"""Reading the JSON files of a dataset, as editors write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nerfspec.errors import DatasetError


def read_json(path: Path) -> Any:
    """Parse a JSON file; a UTF-8 byte-order mark (Windows editors write one) is accepted.
    ``DatasetError`` naming the file when it is missing, unreadable or not JSON."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None

"""The one grammar of ``--sweep`` (``nerfspec compare`` and ``nerfspec fit``): ``KEY=V1,V2,...``,
a key, ``=``, then comma-separated numbers, each read as a TOML number (``4`` an integer, ``4.5``
or ``1e-3`` a float); blank items between commas are skipped. compare's key is
``[field.]<encoding>.<parameter>`` (``gauss.sigma=1,2,4,8``), fit's a mapping (``gauss=5,10,20``);
each checks its key and values on top of this."""

from __future__ import annotations

from nerfspec.config import parse_override
from nerfspec.errors import ConfigError


def split_sweep(text: str, example: str) -> tuple[str, list[int | float]]:
    """``"KEY=V1,V2,..."`` -> ("KEY", [V1, V2, ...]); a one-line ``ConfigError`` showing
    ``example`` when there is no ``=``, or naming the first item that is not a number."""
    if "=" not in text:
        raise ConfigError(f"--sweep {text!r} must look like {example}")
    key, raw = text.split("=", 1)
    values = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        _, value = parse_override(f"v={item}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"--sweep {text!r}: {item!r} is not a number")
        values.append(value)
    return key.strip(), values

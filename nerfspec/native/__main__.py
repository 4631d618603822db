"""``python -m nerfspec.native``: build (or find in the cache) every C++ op now, so the first
training run or test does not stop to compile. `make setup` and `make test` run it."""

import sys

from nerfspec.encodings.hashgrid_cpp import cpu_op_available
from nerfspec.render.sampling import native_march_available


def main() -> int:
    built = {"ray marching": native_march_available(), "hash-grid": cpu_op_available()}
    for what, ok in built.items():
        print(f"{what} C++ op: {'ready' if ok else 'unavailable (the PyTorch implementation runs instead)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m nerfspec.compare JOB.json``: a worker process brings one run to done."""

import sys

from nerfspec.compare.runner import worker_main

sys.exit(worker_main(sys.argv[1:]))

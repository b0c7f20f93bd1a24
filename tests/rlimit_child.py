"""Run the gankit CLI under a data-size limit: ``python rlimit_child.py HEADROOM_MIB gankit-args...``.

Everything training imports is imported first; then RLIMIT_DATA is set to the process's current private memory
(VmData) plus HEADROOM_MIB, so the limit bounds what training allocates, not what torch's import needs.
RLIMIT_DATA (Linux >= 4.7) counts private writable memory: the heap and anonymous maps, where an in-memory data
set lives. A read-only shared file map (the decoded cache) is not private memory and does not count; RLIMIT_AS
would count it, although its pages belong to the page cache, and would forbid the very thing under test.
"""

import resource
import sys

import torch  # noqa: F401

import gankit.cli
import gankit.models  # noqa: F401
import gankit.train.trainer  # noqa: F401


def vmdata() -> int:
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmData"))) * 1024


if __name__ == "__main__":
    limit = vmdata() + int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    sys.exit(gankit.cli.main(sys.argv[2:]))

"""Cold-interpreter time of ``speechtok.load(NAME)``: best of N fresh interpreters.

    python benchmarks/load/measure.py [--repeat 5] [NAME ...]

Each try is a new ``python`` process that imports torch and numpy (the floor no speechtok change
can lower), then ``import speechtok; speechtok.load(NAME)``. It prints the wall time of the whole
process ("cold"), the time of the speechtok part alone ("speechtok": import + load after torch;
wall, and "cpu": the process CPU time it took, less sensitive to other jobs on the machine), how
many modules the load left in ``sys.modules``, and whether training code, lightning, pyworld or
pydantic is among them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

PROBE = """
import json, sys, time
import numpy, torch
t0, c0 = time.perf_counter(), time.process_time()
import speechtok
speechtok.load(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
mods = sys.modules
print(json.dumps({"speechtok_s": t1 - t0, "speechtok_cpu_s": c1 - c0, "modules": len(mods), "pydantic": "pydantic" in mods,
                  "training": sorted(m for m in mods if m.startswith("speechtok") and m.endswith((".train", ".adapt", ".loop"))),
                  "pyworld": "pyworld" in mods, "lightning": any(m.startswith("lightning") for m in mods)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=["speechtok-fast", "speechtok-fast@1.45kbps", "speechtok-base"])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    for name in args.names:
        cold, own, cpu, facts = [], [], [], {}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", PROBE, name], capture_output=True, text=True, check=True).stdout
            cold.append(time.perf_counter() - t0)
            facts = json.loads(out.strip().splitlines()[-1])
            own.append(facts["speechtok_s"])
            cpu.append(facts["speechtok_cpu_s"])
        print(f"{name:26s} cold best {min(cold):.3f} s (median {sorted(cold)[len(cold) // 2]:.3f})  "
              f"speechtok best {1000 * min(own):.0f} ms (median {1000 * sorted(own)[len(own) // 2]:.0f})  "
              f"cpu best {1000 * min(cpu):.0f} ms (median {1000 * sorted(cpu)[len(cpu) // 2]:.0f})  "
              f"modules {facts['modules']}  training {','.join(facts['training']) or '-'}  "
              f"pyworld {facts['pyworld']}  lightning {facts['lightning']}  pydantic {facts['pydantic']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

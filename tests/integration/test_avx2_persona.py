"""bench/avx2/run: libraries see an AVX2-only CPU, and a real crash still crashes."""

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

RUN = ROOT / "bench" / "avx2" / "run"
HAS_CPUID_FAULT = "cpuid_fault" in Path("/proc/cpuinfo").read_text().split()


def persona(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUN), sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_libraries_choose_avx2_kernels_and_the_benchmarks_say_so():
    done = persona("import torch; from bench import environment as e; "
                   "print(torch.backends.cpu.get_cpu_capability(), e.cpu_persona(), ' '.join(e.cpu_flags()))")
    if not HAS_CPUID_FAULT:  # the script refuses, saying why, rather than measuring the wrong thing
        assert done.returncode == 3 and "no CPUID faulting" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    capability, name, *flags = done.stdout.split()
    assert capability in ("AVX2", "DEFAULT") and name == "avx2"
    assert "avx2" in flags and not any(flag.startswith(("avx512", "amx")) or flag == "avx_vnni" for flag in flags)


def test_a_real_segfault_under_the_persona_still_kills_the_process():
    done = persona("import ctypes; ctypes.string_at(0)")
    assert done.returncode == (-11 if HAS_CPUID_FAULT else 3), done.stderr

"""How long a new user waits: a fresh clone's first `scripts/run.sh`, until the chat answers.

    python -m bench.first_start [--keep DIR] [--skip-reader] [--timeout 1800]

Clones the committed HEAD into a new folder (`git clone --local`: no venv, no data) and gives the run a
new HOME, so nothing made by an earlier start is reused (the reader model assembled in
~/.cache/newsqa, the ONNX export); pip's own download cache stays, as on a machine that installed
Python packages before. Then it times, from the process start: the server answering /api/health
(set-up of .venv, the reader, and the sample indexed on first start) and the first answer to the
sample question. The lines run.sh prints are kept in the JSON, with the machine and load average.
Writes bench/out/first_start.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import environment
from bench.lib import OUT, ROOT, write_json
from bench.perf import free_port

QUESTION = "Who brokered the deal?"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder, removed)")
    parser.add_argument("--skip-reader", action="store_true", help="NEWSQA_SKIP_READER=1: the extractive mode only")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="newsqa-first-start-"))
    clone, home = folder / "newsqa", folder / "home"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(clone)], check=True)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "HOME": str(home), "NEWSQA_PORT": str(port), "NEWSQA_SKIP_READER": "1" if args.skip_reader else "0"}
    for name in ("NEWSQA_DATA_DIR", "NEWSQA_ANSWER_MODE", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    log_path = folder / "run.log"
    load_start = environment.loadavg()
    started = time.monotonic()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(["scripts/run.sh"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
        health_s = answer_s = None
        answer = {}
        try:
            while time.monotonic() - started < args.timeout:
                if server.poll() is not None:
                    raise SystemExit(f"run.sh exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                        health_s = time.monotonic() - started
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(1)
            if health_s is not None:
                answer = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": QUESTION}, timeout=300).json()
                answer_s = time.monotonic() - started
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    result = {
        "command": environment.command_line(), "machine": environment.machine(),
        "loadavg_start": load_start, "loadavg_end": environment.loadavg(), "skip_reader": args.skip_reader,
        "health_s": health_s, "first_answer_s": answer_s, "mode": answer.get("mode"),
        "short_answer": answer.get("short_answer"), "log_tail": log_path.read_text(errors="replace")[-4000:],
    }
    write_json(OUT / "first_start.json", result)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"first start: answering /api/health after {health_s and round(health_s)} s, first answer "
          f"({result['mode']}: {result['short_answer']!r}) after {answer_s and round(answer_s)} s; "
          f"load {load_start} -> {result['loadavg_end']}; {result['machine']['cpu']}, flags "
          f"{' '.join(result['machine']['cpu_flags'])}")
    return 0 if answer_s is not None else 1


if __name__ == "__main__":
    sys.exit(main())

"""Start compose.yaml's stack and check the shared mode end to end, as docs/deploy.md describes it:
two replicas behind nginx, one PostgreSQL, one Chroma server.

    python3 deploy/check.py [--keep] [--port 18080]

It needs a Docker engine and Compose (`docker compose`, or `docker-compose`), and the standard library
only. The stack runs under its own project name (newsqa-check) and proxy port, and is removed with its
volumes at the end unless --keep. On a host that cannot reach Docker Hub, build the stand-ins first
(deploy/offline/build-images.sh) and export the variables it prints. Exits 1 at the first failed check.

What it checks, in order:
1. the stack builds and starts; the proxy's /api/health says ok, names PostgreSQL and the Chroma
   server, and counts the sample article;
2. an article sent to one replica is answered by the other at once, citing that article;
3. through the proxy: /api/ask, the OpenAI-compatible /v1/chat/completions, and the chat page;
4. a replica killed (SIGKILL) while it ingests a series of uploads loses none it had answered, and the
   series sent again through the other replica completes the index, consistent, without duplicates;
   the killed replica starts again and sees the same index;
5. with PostgreSQL stopped, then Chroma, the proxy answers 503 with a message, and 200 again once each
   is back, with no replica restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "newsqa-check"

# Run inside a replica: one HTTP request to that replica itself, body from stdin, "status json" out.
IN_REPLICA = """
import sys, urllib.request, urllib.error
method, path = sys.argv[1], sys.argv[2]
data = sys.stdin.buffer.read() or None
request = urllib.request.Request("http://127.0.0.1:7860" + path, data=data, method=method,
                                 headers={"Host": "127.0.0.1", "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=600) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
"""


class CheckFailed(Exception):
    pass


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise CheckFailed("needs Docker Compose: `docker compose` or `docker-compose`")


class Stack:
    def __init__(self, port: int):
        self.port = port
        self.env = {**os.environ, "PROXY_PORT": str(port), "PROXY_BIND": "127.0.0.1"}
        self.compose = [*compose_command(), "-p", PROJECT, "-f", str(ROOT / "compose.yaml")]

    def run(self, *args: str, check: bool = True, capture: bool = True, stdin: bytes | None = None):
        result = subprocess.run([*self.compose, *args], cwd=ROOT, env=self.env, input=stdin,
                                capture_output=capture)
        if check and result.returncode:
            err = result.stderr.decode(errors="replace")[-2000:] if capture else ""
            raise CheckFailed(f"`compose {' '.join(args)}` exited {result.returncode}\n{err}")
        return result

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.decode().strip()

    def proxy(self, method: str, path: str, body: dict | None = None, timeout: float = 300) -> tuple[int, dict | str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, parse(response.read().decode())
        except urllib.error.HTTPError as error:
            return error.code, parse(error.read().decode())

    def replica(self, service: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
        """A request to one replica from inside its own container (only the proxy is published)."""
        data = json.dumps(body).encode() if body is not None else b""
        out = self.run("exec", "-T", service, "python", "-c", IN_REPLICA, method, path, stdin=data).stdout.decode()
        status, _, text = out.strip().partition(" ")
        return int(status), parse(text)


def parse(text: str) -> dict | str:
    try:
        return json.loads(text)
    except ValueError:
        return text


def expect(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        raise CheckFailed(f"{what}: {str(detail)[:1500]}")
    print(f"  ok  {what}")


def wait_for(probe, what: str, timeout: float) -> float:
    """Seconds until probe() is true; CheckFailed after timeout."""
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < timeout:
        try:
            if probe():
                return time.monotonic() - start
        except (OSError, CheckFailed, ValueError) as error:
            last = error
        time.sleep(2)
    raise CheckFailed(f"{what}: not within {timeout:.0f} s ({last})")


def article(n: int, topic: str = "council") -> dict:
    return {"title": f"Check story {n}: {topic} vote", "source": f"check-{topic}-{n}",
            "text": f"The {topic} of Tarnby number {n} voted on a new budget on Tuesday. "
                    f"Councillor Ada Quist{n} said the plan would add {n + 10} buses. "
                    f"The vote passed by {n + 3} to two."}


def check_health(stack: Stack) -> dict:
    status, health = stack.proxy("GET", "/api/health")
    expect(status == 200 and health["status"] == "ok", "proxy /api/health says ok", health)
    expect(health["backends"]["catalog"]["backend"] == "postgresql", "the catalog is PostgreSQL", health["backends"])
    expect(health["backends"]["vectors"]["backend"] == "chroma-server", "the vectors are the Chroma server",
           health["backends"])
    expect(health["index"]["state"] == "consistent", "the index is consistent", health["index"])
    return health


def check_upload_one_answer_other(stack: Stack) -> None:
    story = {"title": "Tarnby harbour wall", "source": "check-harbour",
             "text": "Tarnby will rebuild its harbour wall for 31 million crowns, the port authority said on "
                     "Monday. The work is to start in March and last two years, said engineer Iris Vell."}
    status, added = stack.replica("app1", "POST", "/api/articles", {"articles": [story]})
    expect(status == 200 and added.get("added") == 1, "app1 took an article", added)
    status, answer = stack.replica("app2", "POST", "/api/ask",
                                   {"question": "How much will the Tarnby harbour wall cost?"})
    cited = {c.get("source") or c.get("title") for c in answer.get("citations", [])} if isinstance(answer, dict) else set()
    expect(status == 200 and ("check-harbour" in cited or "Tarnby harbour wall" in cited),
           "app2 answers from it at once, citing it", answer)
    expect("31 million" in json.dumps(answer), "and the answer holds the amount", answer)


def check_proxy_api(stack: Stack) -> None:
    status, answer = stack.proxy("POST", "/api/ask", {"question": "Who brokered the deal?"})
    expect(status == 200 and answer.get("citations"), "proxy /api/ask answers with citations", answer)
    status, completion = stack.proxy("POST", "/v1/chat/completions", {
        "model": "newsqa", "messages": [{"role": "user", "content": "When does the harbour work start?"}]})
    expect(status == 200 and completion["choices"][0]["message"]["content"],
           "proxy /v1/chat/completions answers in OpenAI's shape", completion)
    status, page = stack.proxy("GET", "/")
    expect(status == 200 and "gradio" in str(page).lower(), "proxy / serves the chat page", str(page)[:300])
    status, error = stack.proxy("POST", "/api/ask", {"question": ""})
    expect(400 <= status < 500 and isinstance(error, dict) and bool(error.get("error") or error.get("detail")),
           "a bad request gets a 4xx with a message", (status, error))


def documents(stack: Stack, service: str) -> set[str]:
    status, listed = stack.replica(service, "GET", "/api/documents")
    if status != 200:
        raise CheckFailed(f"{service} /api/documents: {status} {listed}")
    return {d["source"] for d in listed}


def check_kill_during_ingest(stack: Stack, batches: int = 12, size: int = 4) -> None:
    before = documents(stack, "app2")
    series = [[article(b * size + i) for i in range(size)] for b in range(batches)]
    answered: list[set[str]] = []

    def upload() -> None:
        for batch in series:
            status, body = stack.replica("app1", "POST", "/api/articles", {"articles": batch})
            if status != 200:
                return
            answered.append({a["source"] for a in batch})

    uploader = threading.Thread(target=upload)
    uploader.start()
    wait_for(lambda: len(answered) >= 2, "app1 answered two uploads", 300)
    subprocess.run(["docker", "kill", "-s", "KILL", stack.container("app1")], check=True, capture_output=True)
    uploader.join(120)
    done = set().union(*answered)
    expect(0 < len(answered) < batches, f"app1 killed after {len(answered)} of {batches} uploads")
    after = documents(stack, "app2")
    expect(done <= after, "app2 holds every article app1 had answered for", sorted(done - after))
    for batch in series:
        status, body = stack.replica("app2", "POST", "/api/articles", {"articles": batch})
        if status != 200 or body["added"] + body["unchanged"] != len(batch):
            raise CheckFailed(f"sending the series again through app2: {status} {body}")
    final = documents(stack, "app2")
    every = {a["source"] for batch in series for a in batch}
    expect(final == before | every, "the series sent again through app2 completes it, no duplicates",
           (len(final), len(before | every)))
    status, health = stack.replica("app2", "GET", "/api/health?full=true")
    expect(health["index"]["state"] == "consistent", "app2's full health check: consistent", health["index"])
    stack.run("start", "app1")
    wait_for(lambda: stack.replica("app1", "GET", "/api/health")[0] == 200, "app1 restarted", 300)
    expect(documents(stack, "app1") == final, "the restarted app1 sees the same index")


def check_backend_outage(stack: Stack, service: str) -> None:
    stack.run("stop", service)
    status, body = stack.proxy("GET", "/api/health", timeout=120)
    expect(status == 503 and isinstance(body, dict) and body.get("error"),
           f"with {service} stopped, the proxy's health is 503 with a message", (status, body))
    status, body = stack.proxy("POST", "/api/ask", {"question": "Who brokered the deal?"}, timeout=120)
    expect(status == 503, "and a question gets 503, not a crash", (status, body))
    stack.run("start", service)
    took = wait_for(lambda: stack.proxy("GET", "/api/health", timeout=60)[0] == 200,
                    f"health back after {service} returns", 180)
    expect(True, f"200 again {took:.0f} s after {service} came back, no replica restarted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18080, help="loopback port for the proxy")
    parser.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    args = parser.parse_args()
    stack = Stack(args.port)
    try:
        start = time.monotonic()
        print("building and starting the stack ...", flush=True)
        stack.run("up", "-d", "--build", capture=False)
        wait_for(lambda: stack.proxy("GET", "/api/health", timeout=30)[0] == 200, "the stack is healthy", 900)
        print(f"  ok  healthy {time.monotonic() - start:.0f} s after `up` began (its build included)")
        health = check_health(stack)
        expect(health["documents"] >= 1, "the sample article is indexed", health)
        check_upload_one_answer_other(stack)
        check_proxy_api(stack)
        check_kill_during_ingest(stack)
        check_backend_outage(stack, "postgres")
        check_backend_outage(stack, "chroma")
        check_health(stack)
        print(f"all checks passed in {time.monotonic() - start:.0f} s")
        return 0
    except CheckFailed as failure:
        print(f"FAILED  {failure}", file=sys.stderr)
        stack.run("logs", "--tail", "40", check=False, capture=False)
        return 1
    finally:
        if not args.keep:
            stack.run("down", "-v", "--remove-orphans", check=False)


if __name__ == "__main__":
    sys.exit(main())

"""The deployment files (compose.yaml, deploy/nginx.conf, the Dockerfile, docs/deploy.md) against the
code they configure: a renamed setting, a new chromadb pin, another upload limit or a command that
no longer exists fails here, not in someone's `docker compose up`. Nothing here runs Docker or nginx.
"""

import argparse
import ast
import json
import re

import pytest
import yaml
from starlette.requests import Request

from assistant.cli import build_parser
from assistant.web.errors import error_response, too_large_message
from core.settings import Settings
from tests.support import ROOT

COMPOSE = ROOT / "compose.yaml"
NGINX = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
DOCS = ROOT / "docs" / "deploy.md"
REPLICAS = ("app1", "app2")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def nginx_directives(name: str) -> list[str]:
    """The arguments of every `name ...;` directive in deploy/nginx.conf, comments left out."""
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    return [m.group(1).strip() for m in re.finditer(rf"(?m)^\s*{re.escape(name)}\s+([^;{{}}\n]*);", text)]


def dockerfile_instructions() -> list[str]:
    """One string per instruction, continuation lines joined as Docker joins them."""
    text = DOCKERFILE.read_text().replace("\\\n", "")
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_newsqa_variable_named_in_the_deployment_files_is_a_setting():
    known = {f"NEWSQA_{name.upper()}" for name in Settings.model_fields}
    for path in (COMPOSE, NGINX, DOCKERFILE, DOCS):
        named = set(re.findall(r"\bNEWSQA_[A-Z0-9_]+", path.read_text()))
        assert named, path
        assert named <= known, f"{path.name} names settings that core/settings.py lacks: {sorted(named - known)}"


def test_compose_runs_five_services_each_with_a_health_check(services):
    assert set(services) == {"postgres", "chroma", *REPLICAS, "proxy"}
    for name in ("postgres", "chroma", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    healthcheck = [line for line in dockerfile_instructions() if line.startswith("HEALTHCHECK ")]
    assert len(healthcheck) == 1 and "/api/health" in healthcheck[0]
    code = re.fullmatch(r'HEALTHCHECK .*? CMD python -c "(.*)"', healthcheck[0]).group(1)
    compile(code, "HEALTHCHECK", "exec")  # the replicas' check, from the image: it must at least parse
    for name in REPLICAS:
        assert services[name]["build"]["context"] == ".", name
        assert "test" not in services[name].get("healthcheck", {}), f"{name} would replace the image's check"


def test_replicas_wait_for_healthy_stores_and_the_proxy_for_healthy_replicas(services):
    for name in REPLICAS:
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                "chroma": {"condition": "service_healthy"}}
    assert services["proxy"]["depends_on"] == {name: {"condition": "service_healthy"} for name in REPLICAS}


def test_replicas_share_the_compose_stores_and_keep_their_own_data_dir(services):
    postgres = services["postgres"]["environment"]
    data_dir = next(m[1] for line in dockerfile_instructions() if (m := re.search(r"NEWSQA_DATA_DIR=(\S+)", line)))
    volumes = []
    for name in REPLICAS:
        env = services[name]["environment"]
        url = re.fullmatch(r"postgresql://([^:]+):([^@]+)@([^:]+):(\d+)/(\w+)", env["NEWSQA_DATABASE_URL"])
        assert url, env["NEWSQA_DATABASE_URL"]
        assert url.groups() == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "postgres", "5432",
                                postgres["POSTGRES_DB"])
        assert env["NEWSQA_CHROMA_HOST"] == "chroma"
        assert env["NEWSQA_HOST"] == "0.0.0.0"
        # The names a browser on the published 127.0.0.1:8080 sends; the default must let it in.
        hosts = re.fullmatch(r"\$\{NEWSQA_ALLOWED_HOSTS:-(.+)\}", env["NEWSQA_ALLOWED_HOSTS"])[1]
        assert {"localhost", "127.0.0.1"} <= set(Settings(_env_file=None, allowed_hosts=hosts).allowed_hosts)
        assert "container_name" not in services[name]  # docs/deploy.md scales with --scale
        [volume] = services[name]["volumes"]
        assert volume.split(":")[1] == data_dir  # the replica's data_dir outlives the container
        volumes.append(volume.split(":")[0])
    assert len(set(volumes)) == len(REPLICAS)  # one per replica: copies of one service share theirs


def test_only_the_proxy_is_published_and_on_loopback_by_default(services):
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert list(published) == ["proxy"]
    [port] = published["proxy"]
    assert port.startswith("${PROXY_BIND:-127.0.0.1}:") and port.endswith(":80")
    assert nginx_directives("listen") == ["80"]


def default_of(value: str, variable: str) -> str:
    """`${VARIABLE:-default}` → default: what compose uses where the variable is unset."""
    return re.fullmatch(rf"\$\{{{variable}:-(.+)\}}", value)[1]


def test_chroma_server_matches_the_chromadb_client_pin(services):
    pin = re.search(r"(?m)^chromadb==(\S+)", (ROOT / "requirements.txt").read_text()).group(1)
    assert default_of(services["chroma"]["image"], "CHROMA_IMAGE") == f"chromadb/chroma:{pin}"
    assert services["chroma"]["volumes"] == ["chroma-data:/data"]
    assert "/data" in services["chroma"]["command"]
    assert default_of(services["postgres"]["image"], "POSTGRES_IMAGE").startswith("postgres:")
    assert default_of(services["proxy"]["image"], "PROXY_IMAGE").startswith("nginx:")
    # the stand-ins deploy/offline builds are what docs/deploy.md tells to export
    built = set(re.findall(r"(?m)^build (newsqa-offline/\S+)", (ROOT / "deploy/offline/build-images.sh").read_text()))
    for variable in ("PYTHON_IMAGE", "POSTGRES_IMAGE", "CHROMA_IMAGE", "PROXY_IMAGE"):
        [named] = re.findall(rf"{variable}=(\S+)", DOCS.read_text())
        assert named in built, variable


def test_the_image_installs_the_pinned_cpu_torch_and_runs_serve_unprivileged():
    pin = re.search(r"(?m)^torch==(\S+)", (ROOT / "requirements.txt").read_text()).group(1)
    lines = dockerfile_instructions()
    assert lines[:2] == ["ARG PYTHON_IMAGE=python:3.11-slim", "FROM ${PYTHON_IMAGE}"]
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in lines
    assert f'RUN pip install --index-url "$TORCH_INDEX_URL" torch=={pin}' in lines
    for name in REPLICAS:  # compose passes the same defaults when the variables are unset
        args = yaml.safe_load(COMPOSE.read_text())["services"][name]["build"]["args"]
        assert {variable: default_of(value, variable) for variable, value in args.items()} == {
            "PYTHON_IMAGE": "python:3.11-slim", "TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu"}
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines[-1] == 'CMD ["python", "app.py", "serve"]'


def test_nginx_streams_unbuffered_and_balances_every_replica(services):
    assert nginx_directives("proxy_buffering") == ["off"]
    port = Settings(_env_file=None).port
    servers = [args.split()[0] for args in nginx_directives("server")]
    assert servers == [f"{name}:{port}" for name in REPLICAS]
    for name in REPLICAS:
        assert services[name]["environment"]["NEWSQA_PORT"] == str(port)
    # The browser's Host with its port: a replica refuses a POST whose Origin (host:port) differs from Host.
    assert "Host $http_host" in nginx_directives("proxy_set_header")


def test_nginx_refuses_uploads_exactly_where_the_app_does_and_in_its_words():
    """Over the app's limit, the app closes the connection unread and nginx reports 502; under it,
    nginx would refuse what the app accepts. Its 413 bodies are the app's own."""
    source = (ROOT / "assistant" / "web" / "app.py").read_text()  # not imported: that loads the whole engine
    slack = next(node.value for node in ast.parse(source).body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "MULTIPART_SLACK")
    slack = eval(compile(ast.Expression(slack), "MULTIPART_SLACK", "eval"), {"__builtins__": {}})
    max_mb = Settings(_env_file=None).max_upload_mb
    assert nginx_directives("client_max_body_size") == [f"{int(max_mb * 2**20 + slack) // 1024}k"]

    [body_map] = re.findall(r"map \$uri \$too_large_body \{(.*?)\n\s*\}", NGINX.read_text(), re.S)
    bodies = dict(re.findall(r"(\S+)\s+'([^']*)';", body_map))
    message = too_large_message(max_mb)
    for path, key in (("/api/documents", "default"), ("/v1/chat/completions", "~^/v1")):
        request = Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b"",
                           "scheme": "http", "server": ("127.0.0.1", 80), "root_path": ""})
        assert json.loads(bodies[key]) == json.loads(error_response(request, 413, message).body), path


def test_every_command_the_docs_run_exists():
    [subcommands] = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    commands = set(subcommands.choices)
    used = set(re.findall(r"app\.py ([\w-]+)", DOCS.read_text()))
    assert {"ingest", "check", "repair", "serve"} <= used
    assert used <= commands, f"docs/deploy.md runs commands app.py lacks: {sorted(used - commands)}"


def test_docs_name_the_published_address_and_the_capacity_heading(services):
    text = DOCS.read_text()
    assert "127.0.0.1:8080" in text and "${PROXY_PORT:-8080}" in services["proxy"]["ports"][0]
    assert "## Capacity" in text and "BENCHMARKS.md" in text
    assert "feedback.jsonl" in text and "python app.py repair" in text

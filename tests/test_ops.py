"""The operations stack (SPEC §7), verified without a Docker engine.

What runs for real here: Debian's ``docker-compose config`` on docker-compose.yml (``make system-deps``
installs it), the shell scripts of the one-shot jobs, every Grafana SQL query against a PostgreSQL database
migrated and loaded by the init job's own script, the Promtail pipeline's JSON expressions (JMESPath, the
language Promtail's ``json`` stage uses) on log lines the app really wrote. What cannot run without an
engine (Falco, Loki, Promtail, Grafana themselves) is checked against their documented formats.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml  # PyYAML, pinned in requirements-dev.txt

from pg_support import pg_env, psql

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
FALCO_RULES = ROOT / "docker" / "falco" / "shoplens_rules.yaml"
LOKI_CONFIG = ROOT / "docker" / "loki" / "loki.yaml"
PROMTAIL_CONFIG = ROOT / "docker" / "promtail" / "promtail.yaml"
GRAFANA = ROOT / "grafana"


# --------------------------------------------------------------------------------------------- compose
def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: run `make system-deps` (Debian package docker-compose)")
    return exe


def _compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "GRAFANA_", "COMPOSE_"))}
    return subprocess.run(
        [_docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@cache
def compose_config() -> dict:
    """The compose file as docker-compose resolves it (anchors merged, variables substituted)."""
    run = _compose("config")
    assert run.returncode == 0, run.stderr
    return yaml.safe_load(run.stdout)


@cache
def compose_source() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_file_validates_with_docker_compose():
    run = _compose("config", "--quiet")
    assert run.returncode == 0, run.stderr
    services = set(compose_config()["services"])
    assert services == {"postgres", "init", "grafana-role", "app", "grafana", "loki", "promtail", "falco"}


def test_compose_refuses_to_start_without_secrets(tmp_path):
    for missing in ("POSTGRES_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        env = tmp_path / f"without-{missing}.env"
        env.write_text("".join(line for line in _env_lines() if not line.startswith(f"{missing}=")))
        run = _compose("config", "--quiet", env_file=env)
        assert run.returncode != 0
        assert missing in run.stderr


def _env_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines(keepends=True)


def _bind_mounts(service: dict) -> list[dict]:
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):  # docker-compose 1.x prints the short syntax: SOURCE:TARGET[:MODE]
            parts = volume.split(":")
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) > 2 else "rw"
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            out.append({"type": kind, "source": source, "target": target, "read_only": "ro" in mode.split(",")})
        else:
            out.append({**volume, "read_only": bool(volume.get("read_only"))})
    return out


HOST_PATHS = {"/var/run/docker.sock", "/proc", "/etc", "/sys/kernel/tracing"}  # Falco's view of the host


def test_every_mounted_path_exists_and_config_is_read_only():
    config = compose_config()
    binds = 0
    for name, service in config["services"].items():
        for mount in _bind_mounts(service):
            if mount["type"] == "volume":
                assert mount["source"] in config["volumes"], f"{name}: undeclared volume {mount['source']}"
                continue
            binds += 1
            assert mount["read_only"] or mount["source"] == "/var/run/docker.sock", f"{name}: {mount} not :ro"
            if mount["source"] in HOST_PATHS:
                assert name == "falco", f"{name} mounts the host's {mount['source']}"
                continue
            source = Path(mount["source"])
            assert source.is_absolute() and source.is_relative_to(ROOT), f"{name}: {source} outside the repo"
            assert source.exists(), f"{name}: mounted path {source} does not exist"
            assert subprocess.run(["git", "check-ignore", "-q", str(source)], cwd=ROOT, check=False).returncode
    assert binds >= 8


def test_every_reference_resolves():
    config = compose_config()
    services = config["services"]
    networks = set(config["networks"])
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dep, spec in depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends):
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name
            condition = spec.get("condition", "service_started")
            assert condition in {"service_started", "service_healthy", "service_completed_successfully"}
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy, it has no check"
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", f"{dep} is a one-shot job"
        attached = service.get("networks", {})
        for net in attached:
            assert net in networks, f"{name} joins unknown network {net}"
        if service.get("network_mode") is None:
            assert attached, f"{name} joins no network"
    # The startup order has no cycle.
    order: list[str] = []
    pending = dict(services)
    while pending:
        ready = [n for n, s in pending.items() if set(s.get("depends_on", {})) <= set(order)]
        assert ready, f"dependency cycle among {sorted(pending)}"
        order += ready
        for n in ready:
            del pending[n]


def test_trust_zones_ports_images_and_healthchecks():
    config = compose_config()
    assert config["networks"]["backend"].get("internal") is True
    assert config["networks"]["frontend"].get("internal") is not True
    published = {}
    for name, service in config["services"].items():
        # Pinned: a version tag, never latest; the app image is built here.
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and re.fullmatch(r"\d+(\.\d+)+([-.][a-z0-9]+)*", tag), f"{name}: {image} is not pinned"
        if "build" in service:
            assert repo == "shoplens"
        for port in service.get("ports", []):
            ip = port["host_ip"] if isinstance(port, dict) else str(port).split(":")[0]
            assert ip == "127.0.0.1", f"{name} publishes {port} beyond localhost"
            published.setdefault(name, []).append(port)
        if "backend" in service.get("networks", {}) and name not in {"app", "grafana"}:
            assert set(service["networks"]) == {"backend"}, f"{name} must stay on the internal network"
        if service.get("restart", "no") != "no":
            assert "healthcheck" in service, f"long-running service {name} has no healthcheck"
            test = service["healthcheck"]["test"]
            assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1
    assert set(published) == {"app", "grafana"}


def test_secrets_come_from_env_file():
    source = compose_source()
    secret_keys = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
    for name, service in source["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret_keys.search(key) or "DATABASE_URL" in key:
                assert re.search(r"\$\{[A-Z_]+:\?", str(value)), f"{name}.{key} is not taken from .env"
    env = dict(line.strip().split("=", 1) for line in _env_lines() if "=" in line and not line.startswith("#"))
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_FILE.read_text()))
    assert used <= set(env), f"variables the compose file uses but .env.example lacks: {used - set(env)}"
    for key, value in env.items():
        if secret_keys.search(key):
            assert re.fullmatch(r"<[a-z-]+>", value), f".env.example: {key} must be a placeholder"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"


# ----------------------------------------------------------------------------------------- secret scan
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    # a URL whose user-info part holds a literal password (not a $VAR, ${VAR} or <placeholder>)
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?![$<{])[^\s/@'\"]+@"),
}
# key: value / KEY=value assignments of a literal in configuration files
SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)(?<![\w${])[\w.-]*(?:password|passwd|secret|token|api[_-]?key)[\w.-]*["']?(?:\s*=|:)\s*["']?
        (?![$<{%]|true\b|false\b|null\b|none\b)([^\s"'#,}]{4,})"""
)
CONFIG_SUFFIXES = {".yml", ".yaml", ".json", ".env", ".example", ".ini", ".toml", ".conf", ".cfg", ".sh"}


def find_secrets(path: str, text: str) -> list[str]:
    found = [f"{path}: {what}" for what, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    name = Path(path).name
    if Path(path).suffix in CONFIG_SUFFIXES or name in {"Dockerfile", ".env"}:
        found += [f"{path}: literal secret {m.group(0)!r}" for m in SECRET_ASSIGNMENT.finditer(text)]
    return found


def test_secret_scanner_finds_planted_secrets():
    assert find_secrets("x.yaml", "password: hunter22")
    assert find_secrets("x.env", "GRAFANA_ADMIN_PASSWORD=s3cr3t-value")
    # (assembled at run time so that this file does not contain what it plants)
    assert find_secrets("x.py", 'URL = "postgresql://app:' + 'tops3cret@db:5432/x"')
    assert find_secrets("x.txt", "-----BEGIN OPENSSH " + "PRIVATE KEY-----")
    assert find_secrets("x.json", '{"secureJsonData": {"password": "' + 'plain-text"}}')
    assert not find_secrets("x.yaml", "password: $GRAFANA_DB_PASSWORD\ntoken: ${TOKEN:?set it}")
    assert not find_secrets("x.env", "POSTGRES_PASSWORD=<generate-a-password>")
    assert not find_secrets("x.py", 'URL = "postgresql://postgres@127.0.0.1:5432/postgres"')
    assert not find_secrets("x.sh", "ALTER ROLE :\"role\" WITH LOGIN PASSWORD :'password';")


def test_no_secret_literal_in_any_committed_file():
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "docker-compose.yml" in files
    problems = []
    for rel in files:
        path = ROOT / rel
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        problems += find_secrets(rel, text)
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------ Dockerfile
def _stages() -> list[dict]:
    stages: list[dict] = []
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            image, _, alias = rest.partition(" AS ")
            stages.append({"image": image.strip(), "name": alias.strip(), "lines": []})
        else:
            stages[-1]["lines"].append((instruction, rest.strip()))
    return stages


def _makefile_recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"Makefile has no target {target}"
    return re.sub(r"\\\n\s*", " ", match.group(1))


def _maturin_args(command: str) -> list[str]:
    tokens = command.split()
    start = next(i for i, t in enumerate(tokens) if t.endswith("maturin"))
    return [t for t in tokens[start + 1 :] if not t.startswith("$(") and t not in {"&&", ";"}]


def test_dockerfile_builds_the_wheel_with_the_makefiles_command():
    build, runtime = _stages()
    runs = [rest for instr, rest in build["lines"] if instr == "RUN"]
    docker_build = next(r for r in runs if re.search(r"\bmaturin build\b", r))
    make_build = next(line for line in _makefile_recipe("wheel").splitlines() if "maturin build" in line)
    # Same subcommand and flags; only the output folder's spelling differs ($(DIST) vs dist).
    docker_args = _maturin_args(docker_build)
    make_args = _maturin_args(make_build)
    assert docker_args[:-1] == make_args == ["build", "--release", "--out"]
    assert "--release" in _maturin_args(_makefile_recipe("dev"))  # CI's `make dev` builds the same profile
    # The same maturin as requirements-dev.txt pins.
    pin = re.search(r"^maturin==([\d.]+)$", (ROOT / "requirements-dev.txt").read_text(), re.M).group(1)
    assert re.search(rf"\bmaturin=={re.escape(pin)}\b", " ".join(runs)), f"Dockerfile must install maturin=={pin}"
    # A Rust toolchain at least as new as Cargo.toml's rust-version.
    rust_version = re.search(r'^rust-version = "([\d.]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    toolchain = re.match(r"rust:(\d+)\.(\d+)", build["image"])
    assert toolchain and tuple(map(int, toolchain.groups())) >= tuple(map(int, rust_version.split(".")[:2]))
    # Every source the build stage copies exists.
    for instr, rest in build["lines"]:
        if instr == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    # Everything the wheel includes (pyproject's [tool.maturin] include) is copied into the build stage.
    import tomllib

    copied = {rest.split()[-1].removeprefix("./") for instr, rest in build["lines"] if instr == "COPY"}
    maturin = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["maturin"]
    for include in maturin.get("include", []):
        path = include["path"] if isinstance(include, dict) else include
        top = path.split("/**")[0]
        assert any(top == c or top.startswith(c.rstrip("/") + "/") for c in copied), f"wheel needs {path}"
    assert maturin["python-source"] in copied
    # The wheel lands in the runtime stage from the build stage, not rebuilt there.
    assert any(instr == "COPY" and rest.startswith(f"--from={build['name']}") for instr, rest in runtime["lines"])


def test_runtime_image_is_slim_non_root_and_without_compiler():
    build, runtime = _stages()
    assert build["name"] and runtime["image"].startswith("python:") and "-slim" in runtime["image"]
    # The build stage's Debian python3 (bookworm: 3.11) and the runtime's minor version agree: cp311 wheel.
    assert "bookworm" in build["image"] and re.match(r"python:3\.11\.\d+-slim-bookworm$", runtime["image"])
    requires = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert int(requires) <= 11
    text = " ".join(rest for _, rest in runtime["lines"])
    for tool in ("gcc", "g++", "clang", "build-essential", "cargo", "rustc", "rustup", "maturin", "make "):
        assert tool not in text, f"runtime stage brings in {tool.strip()}"
    users = [rest for instr, rest in runtime["lines"] if instr == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert runtime["lines"][-1][0] == "CMD"
    # The COPY of the init job's script refers to a file of the repo, and the compose file runs it.
    copied = [rest.split()[-2] for instr, rest in runtime["lines"] if instr == "COPY" and "--from" not in rest]
    assert all((ROOT / c).is_file() for c in copied)
    assert compose_config()["services"]["init"]["command"] == ["shoplens-init"]


# ----------------------------------------------------------------------------------------------- Falco
FALCO_PRIORITIES = {  # rule priority -> the name Falco writes in its JSON output's "priority"
    "EMERGENCY": "Emergency",
    "ALERT": "Alert",
    "CRITICAL": "Critical",
    "ERROR": "Error",
    "WARNING": "Warning",
    "NOTICE": "Notice",
    "INFORMATIONAL": "Informational",
    "INFO": "Informational",
    "DEBUG": "Debug",
}
# Falco's supported fields used by the rules (https://falco.org/docs/reference/rules/supported-fields/,
# syscall source and the container plugin). A field outside this list is a typo or needs adding on purpose.
FALCO_FIELDS = {
    "evt.type", "evt.dir", "evt.time", "evt.is_open_write", "evt.is_open_read", "evt.rawres", "evt.res",
    "fd.typechar", "fd.num", "fd.name", "fd.filename", "fd.directory", "fd.sip", "fd.sport", "fd.snet",
    "fd.net", "fd.l4proto", "proc.name", "proc.pname", "proc.cmdline", "proc.args", "proc.exepath",
    "user.name", "container.id", "container.name", "container.image.repository",
}  # fmt: skip
RULE_KEYS = {"rule", "desc", "condition", "output", "priority", "tags", "enabled", "source", "exceptions"}
COMPARISON = {"=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith", "glob"}
SET_OPERATORS = {"in", "intersects", "pmatch"}
TOKEN = re.compile(r"""\s*("[^"]*"|'[^']*'|!=|<=|>=|[()=<>,]|[^\s()=<>!,"']+)""")


def _tokens(condition: str) -> list[str]:
    pos, out = 0, []
    condition = condition.strip()
    while pos < len(condition):
        match = TOKEN.match(condition, pos)
        assert match and match.end() > pos, f"cannot tokenize condition at {condition[pos:]!r}"
        out.append(match.group(1))
        pos = match.end()
    return out


def parse_condition(condition: str) -> dict[str, set[str]]:
    """Fields, macro references and list references of a Falco condition, checking its structure."""
    tokens = _tokens(condition)
    used: dict[str, set[str]] = {"fields": set(), "macros": set(), "lists": set()}
    depth, i, expect_operand = 0, 0, True
    while i < len(tokens):
        tok = tokens[i]
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            assert depth >= 0, f"unbalanced ')' in {condition!r}"
            expect_operand = False
        elif tok in {"and", "or"}:
            assert not expect_operand, f"dangling {tok!r} in {condition!r}"
            expect_operand = True
        elif tok == "not":
            assert expect_operand
        else:
            assert expect_operand, f"two operands in a row at {tok!r} in {condition!r}"
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt in COMPARISON:
                used["fields"].add(tok)
                value = tokens[i + 2]
                assert value not in {"(", ")", "and", "or", "not"}, f"{tok} {nxt} without a value"
                i += 2
            elif nxt in SET_OPERATORS:
                used["fields"].add(tok)
                assert tokens[i + 2] == "(", f"{tok} {nxt} needs a parenthesised list"
                close = tokens.index(")", i + 3)
                items = [t for t in tokens[i + 3 : close] if t != ","]
                assert items, f"empty list after {tok} {nxt}"
                used["lists"].update(t for t in items if t[0] not in "\"'" and not t.isdigit())
                i = close
            elif nxt == "exists":
                used["fields"].add(tok)
                i += 1
            else:
                assert "." not in tok, f"field {tok} without an operator in {condition!r}"
                used["macros"].add(tok)
            expect_operand = False
        i += 1
    assert depth == 0 and not expect_operand, f"incomplete condition {condition!r}"
    return used


@cache
def falco_items() -> list[dict]:
    items = yaml.safe_load(FALCO_RULES.read_text())
    assert isinstance(items, list) and items
    return items


def test_falco_condition_parser_rejects_malformed_conditions():
    ok = parse_condition("a_macro and not (proc.name in (sh, bash) or fd.name startswith /etc)")
    assert ok == {"fields": {"proc.name", "fd.name"}, "macros": {"a_macro"}, "lists": {"sh", "bash"}}
    for bad in ("proc.name = sh and", "(proc.name = sh", "proc.name in ()", "proc.name", "a b"):
        with pytest.raises(AssertionError):
            parse_condition(bad)


def test_falco_rules_are_well_formed():
    items = falco_items()
    lists = {i["list"]: i for i in items if "list" in i}
    macros = {i["macro"]: i for i in items if "macro" in i}
    rules = [i for i in items if "rule" in i]
    assert len(lists) + len(macros) + len(rules) == len(items), "every item is a rule, a macro or a list"
    names = [i.get("list") or i.get("macro") or i.get("rule") for i in items]
    assert len(names) == len(set(names)), "duplicate names"
    used_lists, used_macros = set(), set()
    for item in [*macros.values(), *rules]:
        parsed = parse_condition(item["condition"])
        assert parsed["fields"] <= FALCO_FIELDS, f"unknown fields {parsed['fields'] - FALCO_FIELDS}"
        assert parsed["macros"] <= set(macros), f"undefined macros {parsed['macros'] - set(macros)}"
        used_macros |= parsed["macros"]
        # A bare word in a value list is a list reference when such a list exists, else a literal (as in
        # Falco); every list must then be referenced somewhere, which catches a misspelt reference.
        used_lists |= parsed["lists"] & set(lists)
        assert not {w for w in parsed["lists"] if w.startswith("shoplens_")} - set(lists)
    for rule in rules:
        assert set(rule) <= RULE_KEYS, f"{rule['rule']}: unknown keys {set(rule) - RULE_KEYS}"
        for key in ("rule", "desc", "condition", "output", "priority"):
            assert isinstance(rule.get(key), str) and rule[key].strip(), f"{rule['rule']}: no {key}"
        assert rule["priority"].upper() in FALCO_PRIORITIES
        for field in re.findall(r"%([a-z][\w.]*[\w])", rule["output"]):
            assert field in FALCO_FIELDS, f"{rule['rule']}: output field {field}"
    for entry in lists.values():
        assert isinstance(entry["items"], list) and entry["items"]
    assert set(lists) == used_lists, f"unused lists {set(lists) - used_lists}"
    assert set(macros) == used_macros, f"unused macros {set(macros) - used_macros}"


def test_falco_rules_cover_the_stack_and_are_loaded_by_the_service():
    rules = {i["rule"]: i for i in falco_items() if "rule" in i}
    wanted = ["shell in app or database", "write below app code", "secrets or .env", "outbound", "package manager"]
    wanted.append("postgresql config")
    for words in wanted:
        assert any(words in name.lower() for name in rules), f"no rule about {words}"
    falco = compose_config()["services"]["falco"]
    targets = {m["target"]: m for m in _bind_mounts(falco)}
    mount = targets["/etc/falco/rules.d/shoplens_rules.yaml"]
    assert Path(mount["source"]) == FALCO_RULES and mount["read_only"]
    command = " ".join(falco["command"])
    assert "json_output=true" in command and "file_output.enabled=true" in command


# ----------------------------------------------------------------------------------------- Loki, Promtail
def test_loki_single_binary_filesystem_storage_and_retention():
    loki = yaml.safe_load(LOKI_CONFIG.read_text())
    assert loki["auth_enabled"] is False
    assert loki["common"]["ring"]["kvstore"]["store"] == "inmemory" and loki["common"]["replication_factor"] == 1
    assert all(c["object_store"] == "filesystem" for c in loki["schema_config"]["configs"])
    assert loki["compactor"]["retention_enabled"] is True
    days = int(loki["limits_config"]["retention_period"].removesuffix("h")) / 24
    assert 7 <= days <= 400
    volume_targets = {m["target"] for m in _bind_mounts(compose_config()["services"]["loki"]) if m["type"] == "volume"}
    data_dirs = [loki["common"]["path_prefix"], loki["compactor"]["working_directory"]]
    data_dirs += list(loki["common"]["storage"]["filesystem"].values())
    for directory in data_dirs:
        assert any(Path(directory).is_relative_to(t) for t in volume_targets), f"{directory} not on a volume"


def _promtail() -> dict:
    return yaml.safe_load(PROMTAIL_CONFIG.read_text())


def _scrape_job(job: str) -> dict:
    for scrape in _promtail()["scrape_configs"]:
        labels = scrape["static_configs"][0]["labels"]
        if labels["job"] == job:
            return scrape
    raise AssertionError(f"Promtail has no job {job}")


def _mounted_source(service: str, path: str) -> str:
    """The named volume that holds ``path`` inside ``service``."""
    for mount in _bind_mounts(compose_config()["services"][service]):
        if Path(path).is_relative_to(mount["target"]):
            assert mount["type"] == "volume", f"{service}: {path} is not on a named volume"
            return mount["source"]
    raise AssertionError(f"{service}: nothing mounted at {path}")


def test_promtail_reads_the_files_the_app_and_falco_write():
    app_command = compose_config()["services"]["app"]["command"]
    app_log = app_command[app_command.index("--log-file") + 1]
    falco_options = compose_config()["services"]["falco"]["command"]
    falco_log = next(o.split("=", 1)[1] for o in falco_options if o.startswith("file_output.filename="))
    for writer, path, job in (("app", app_log, "shoplens-app"), ("falco", falco_log, "falco")):
        glob = _scrape_job(job)["static_configs"][0]["labels"]["__path__"]
        assert fnmatch.fnmatch(path, glob), f"Promtail's {glob} misses {path}"
        volume = _mounted_source(writer, path)
        assert _mounted_source("promtail", glob.replace("*", "x")) == volume, f"{job}: not the writer's volume"
    positions = _promtail()["positions"]["filename"]
    _mounted_source("promtail", positions)
    assert _promtail()["clients"][0]["url"].startswith("http://loki:3100/")


# Promtail's stages, applied the way Promtail applies them: the json stage evaluates each expression (JMESPath)
# on the line, the labels stage turns extracted values into strings as Go does, the timestamp stage parses.
RFC3339_NANO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def _go_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def apply_pipeline(stages: list[dict], line: str) -> dict[str, str]:
    import jmespath

    extracted: dict[str, object] = {}
    labels: dict[str, str] = {}
    for stage in stages:
        ((kind, config),) = stage.items()
        if kind == "json":
            document = json.loads(line)
            for name, expression in config["expressions"].items():
                extracted[name] = jmespath.search(expression or name, document)
        elif kind == "timestamp":
            assert config["format"] == "RFC3339Nano"
            value = extracted.get(config["source"])
            assert isinstance(value, str) and RFC3339_NANO.fullmatch(value), f"timestamp {value!r} not RFC 3339"
        elif kind == "labels":
            for name, source in config.items():
                value = extracted.get(source or name)
                if value is not None and _go_string(value) != "":
                    labels[name] = _go_string(value)
        else:
            raise AssertionError(f"stage {kind} is not emulated here: extend apply_pipeline")
    return labels


def test_pipeline_emulation_matches_promtail_semantics():
    stages = [
        {"json": {"expressions": {"t": "time", "s": "status", "c": 'f."container.name"', "level": None}}},
        {"timestamp": {"source": "t", "format": "RFC3339Nano"}},
        {"labels": {"status": "s", "container": "c", "level": None}},
    ]
    line = '{"time":"2026-01-02T03:04:05.678+00:00","status":401,"level":"info","f":{"container.name":"db"}}'
    assert apply_pipeline(stages, line) == {"status": "401", "container": "db", "level": "info"}
    assert "status" not in apply_pipeline(stages, line.replace("401", "null"))
    with pytest.raises(AssertionError):
        apply_pipeline(stages, line.replace("2026-01-02T03", "2026-01-02 03"))


# ---------------------------------------------------------------------------------------------- Grafana
def _datasources() -> dict[str, dict]:
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text())
    return {ds["uid"]: ds for ds in provisioned["datasources"]}


def _dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def _alert_rules() -> list[dict]:
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "alerting" / "rules.yaml").read_text())
    return [rule for group in provisioned["groups"] for rule in group["rules"]]


def grafana_queries() -> list[tuple[str, str, dict]]:
    """(where, data source uid, query) for every panel target and every alert query."""
    out = []
    for name, board in _dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or panel["datasource"])["uid"]
                assert panel["datasource"]["uid"] == uid
                out.append((f"{name}: {panel['title']}", uid, target))
    for rule in _alert_rules():
        for query in rule["data"]:
            if query["datasourceUid"] != "__expr__":
                out.append((f"alert {rule['title']}", query["datasourceUid"], query["model"]))
    return out


def test_every_datasource_uid_referenced_exists():
    sources = _datasources()
    assert {ds["type"] for ds in sources.values()} == {"grafana-postgresql-datasource", "loki"}
    queries = grafana_queries()
    assert {uid for _, uid, _ in queries} == set(sources)
    for where, uid, query in queries:
        assert uid in sources, f"{where}: unknown data source {uid}"
        inner = query.get("datasource")
        if inner:
            assert inner["uid"] == uid and inner["type"] == sources[uid]["type"], where
    for rule in _alert_rules():
        refs = {q["refId"] for q in rule["data"]}
        assert rule["condition"] in refs
        for q in rule["data"]:
            if q["datasourceUid"] == "__expr__":
                assert q["model"]["expression"] in refs, f"{rule['title']}: {q['model']['expression']}"
    # Dashboards and alerts are unique and fixed by UID; alerts link to dashboards that exist.
    boards = {b["uid"] for b in _dashboards().values()}
    assert len(boards) == len(_dashboards())
    for rule in _alert_rules():
        assert rule["annotations"].get("__dashboardUid__", next(iter(boards))) in boards
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    grafana_mounts = {m["target"]: Path(m["source"]) for m in _bind_mounts(compose_config()["services"]["grafana"])}
    assert grafana_mounts[path] == GRAFANA / "dashboards"
    assert grafana_mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"


def test_dashboards_and_alert_rules_are_well_formed():
    uids = []
    for name, board in _dashboards().items():
        uids.append(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, f"{name}: {panel['title']} off the grid"
            assert panel["type"] == "row" or panel.get("targets"), f"{name}: {panel['title']} has no query"
    rules = _alert_rules()
    uids += [rule["uid"] for rule in rules]
    assert len(uids) == len(set(uids)) and all(re.fullmatch(r"[a-zA-Z0-9-]{1,40}", u) for u in uids)
    assert len({rule["title"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["noDataState"] in {"NoData", "Alerting", "OK"}
        assert rule["execErrState"] in {"Error", "Alerting", "OK"}
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        for query in rule["data"]:
            if query["datasourceUid"] != "__expr__":
                window = query["relativeTimeRange"]
                assert window["from"] > window["to"] >= 0
    titles = " ".join(rule["title"].lower() for rule in rules)
    for wanted in ("failed-login burst", "falco", "kpi anomaly", "5xx"):
        assert wanted in titles, f"no alert rule about {wanted}"


def test_datasources_take_credentials_from_the_environment():
    sources = _datasources()
    pg = next(ds for ds in sources.values() if ds["type"] == "grafana-postgresql-datasource")
    assert pg["user"] == "$GRAFANA_DB_USER" and pg["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"
    grafana_env = compose_source()["services"]["grafana"]["environment"]
    for variable in ("GRAFANA_DB_USER", "GRAFANA_DB_PASSWORD", "POSTGRES_DB"):
        assert variable in grafana_env
    assert pg["url"] == "postgres:5432" and "postgres" in compose_config()["services"]
    loki = next(ds for ds in sources.values() if ds["type"] == "loki")
    assert loki["url"] == "http://loki:3100"


# LogQL: stream selectors {label op "value", ...}, grouping `by (labels)`, `| json name="field"` extraction.
SELECTOR = re.compile(r"\{([^{}]*)\}")
MATCHER = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
JSON_PARSER = re.compile(r"\|\s*json\b((?:\s*,?\s*\w+\s*=\s*\"[^\"]*\")*)")


def parse_logql(expr: str) -> dict:
    selectors = []
    for body in SELECTOR.findall(expr):
        matchers, pos = [], 0
        while pos < len(body):
            match = MATCHER.match(body, pos)
            assert match and match.end() > pos, f"cannot parse matcher at {body[pos:]!r} in {expr!r}"
            matchers.append(match.groups())
            pos = match.end()
        selectors.append(matchers)
    extracted: dict[str, str] = {}
    for params in JSON_PARSER.findall(expr):
        extracted.update(re.findall(r'(\w+)\s*=\s*"([^"]*)"', params))
    grouping = {g.strip() for body in GROUPING.findall(expr) for g in body.split(",") if g.strip()}
    return {"selectors": selectors, "json": extracted, "grouping": grouping}


def loki_queries() -> list[tuple[str, str]]:
    loki = {uid for uid, ds in _datasources().items() if ds["type"] == "loki"}
    return [(where, q["expr"]) for where, uid, q in grafana_queries() if uid in loki]


def test_logql_parser():
    parsed = parse_logql('sum by (user) (count_over_time({job="a", event=~"x|y"} | json user="user" [5m]))')
    assert parsed == {"selectors": [[("job", "=", "a"), ("event", "=~", "x|y")]], "json": {"user": "user"},
                      "grouping": {"user"}}  # fmt: skip
    with pytest.raises(AssertionError):
        parse_logql('{job="a", event~"x"}')


def _falco_lines() -> list[str]:
    """One line per rule in the format Falco's JSON output documents (no Falco runs here)."""
    lines = []
    for rule in (i for i in falco_items() if "rule" in i):
        lines.append(json.dumps({
            "hostname": "shoplens-host",
            "output": f"2026-11-28T12:00:00.123456789+0000: {rule['priority'].title()} ...",
            "priority": FALCO_PRIORITIES[rule["priority"].upper()],
            "rule": rule["rule"],
            "source": "syscall",
            "tags": rule.get("tags", []),
            "time": "2026-11-28T12:00:00.123456789Z",
            "output_fields": {"container.name": "shoplens-app-1", "proc.name": "sh", "evt.time": 1764331200123456789},
        }))  # fmt: skip
    return lines


def check_labels(job: str, lines: list[str]) -> None:
    """Every label a Loki query selects or groups by for ``job`` comes out of Promtail for those lines."""
    scrape = _scrape_job(job)
    static = scrape["static_configs"][0]["labels"]
    parsed_lines = [apply_pipeline(scrape["pipeline_stages"], line) for line in lines]
    produced: dict[str, set[str]] = {k: {v} for k, v in static.items() if not k.startswith("__")}
    for labels in parsed_lines:
        for key, value in labels.items():
            produced.setdefault(key, set()).add(value)
    fields = set().union(*(json.loads(line).keys() for line in lines))
    checked = 0
    for where, expr in loki_queries():
        parsed = parse_logql(expr)
        jobs = {v for sel in parsed["selectors"] for k, op, v in sel if k == "job" and op == "="}
        assert len(jobs) == 1, f"{where}: every selector names one job"
        if jobs != {job}:
            continue
        checked += 1
        for selector in parsed["selectors"]:
            for label, op, value in selector:
                assert label in produced, f"{where}: label {label} is not produced by Promtail for {job}"
                if op == "=":
                    assert value in produced[label], f"{where}: no line gives {label}={value!r} ({produced[label]})"
                elif op == "=~":
                    assert re.fullmatch(r"[\w|.\[\]*+?-]+", value), f"{where}: unusual regex {value}"
        for label in parsed["grouping"]:
            assert label in produced or label in parsed["json"], f"{where}: groups by unknown {label}"
        for label, field in parsed["json"].items():
            assert field in fields, f"{where}: | json {label}={field!r} but the lines have no {field}"
    assert checked, f"no Loki query reads {job}"


def test_falco_events_are_parsed_into_the_labels_dashboards_and_alerts_use():
    check_labels("falco", _falco_lines())
    # The alert's priority selection is exactly the rules' priorities from Error up, as Falco writes them.
    alert = next(expr for where, expr in loki_queries() if where.startswith("alert") and 'job="falco"' in expr)
    (selector,) = parse_logql(alert)["selectors"]
    regex = next(value for label, op, value in selector if label == "priority" and op == "=~")
    severe = {"EMERGENCY", "ALERT", "CRITICAL", "ERROR"}
    for priority, name in FALCO_PRIORITIES.items():
        assert bool(re.fullmatch(regex, name)) == (priority in severe), name
    rules = [i for i in falco_items() if "rule" in i]
    assert any(r["priority"].upper() in severe for r in rules)


# ------------------------------------------------------------------------------ the app's real log lines
@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    """A small demo warehouse made by the shoplens CLI, as the init job makes it (generate, build, experiment)."""
    data = tmp_path_factory.mktemp("ops-data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for args in (
        ["generate", "--out", str(data / "demo"), "--scale", "0.01", "--seed", "42"],
        ["build", "--raw", str(data / "demo"), "--out", str(data / "warehouse")],
        ["experiment", "--warehouse", str(data / "warehouse")],
    ):
        run = subprocess.run(["shoplens", *args], capture_output=True, text=True, env=env, check=False)
        assert run.returncode == 0, f"shoplens {args[0]}: {run.stderr}"
    return data


@pytest.fixture(scope="module")
def app_log_lines(demo_data: Path, tmp_path_factory) -> list[str]:
    """Lines the dashboard wrote to its log file while it was used and attacked (tests/dash_support.py)."""
    from dash_support import NEW_PASSWORD, login, login_and_change, make_app

    tmp = tmp_path_factory.mktemp("ops-app")
    log_file = tmp / "app.log"
    under_test = make_app(demo_data / "warehouse", tmp, log_file=log_file, rate_limit="10 per minute")
    client = under_test.app.server.test_client()
    assert client.get("/").status_code == 302  # a request without a session
    for _ in range(5):
        assert login(client, "admin", "wrong password").status_code == 401
    assert login(client, "admin", under_test.password).status_code == 429  # locked out
    under_test.clock.now += 3600
    login_and_change(client, under_test.password, NEW_PASSWORD)
    statuses = [client.get("/_dash-dependencies").status_code for _ in range(12)]
    assert 200 in statuses and 429 in statuses  # served, then the rate limit answered
    lines = log_file.read_text().splitlines()
    assert lines
    return lines


def test_app_log_lines_are_parsed_into_the_labels_dashboards_and_alerts_use(app_log_lines):
    check_labels("shoplens-app", app_log_lines)
    labels = [apply_pipeline(_scrape_job("shoplens-app")["pipeline_stages"], line) for line in app_log_lines]
    # Each security panel has something to count in this run.
    seen = {(lab.get("event"), lab.get("outcome")) for lab in labels}
    for wanted in [("login", "failure"), ("login", "locked"), ("login", "success"), ("rate_limited", "refused")]:
        assert wanted in seen, f"no {wanted} line in the run"
    # HTTP statuses are three-digit label values, so the 5xx selections (status=~"5..") apply to them.
    statuses = {lab["status"] for lab in labels if "status" in lab}
    assert statuses and all(re.fullmatch(r"[1-5]\d\d", s) for s in statuses)
    assert {"200", "302", "429"} <= statuses


# ------------------------------------------------------------------- PostgreSQL: Grafana's login role job
# The test server's helpers and the `scratch_database` fixture: tests/pg_support.py, tests/conftest.py.
_pg_env = pg_env


def test_grafana_role_job_creates_a_read_only_login_with_a_quoted_password(scratch_database):
    import secrets

    admin, url = scratch_database
    role = f"shoplens_grafana_{secrets.token_hex(4)}"
    # The group role the migrations create (NOLOGIN; created only when missing, as they do), with a table.
    setup = psql(url, """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shoplens_readonly') THEN
                CREATE ROLE shoplens_readonly NOLOGIN;
            END IF;
        END $$;
        CREATE TABLE kpis (day date, visitors bigint);
        INSERT INTO kpis VALUES ('2015-05-03', 7);
        GRANT SELECT ON kpis TO shoplens_readonly;
    """)  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    password = 'it\'s "quoted"; DROP TABLE kpis; --' + secrets.token_hex(6)  # quoted by psql, never spliced
    job = ["bash", str(ROOT / "docker/postgres/grafana-role.sh")]
    env = _pg_env(url, GRAFANA_DB_USER=role, GRAFANA_DB_PASSWORD=password)
    try:
        for _ in range(2):  # a restart of the stack runs the job again: harmless
            run = subprocess.run(job, capture_output=True, text=True, env=env, check=False, timeout=60)
            assert run.returncode == 0, run.stderr
        info = psql(admin, f"SELECT rolcanlogin, rolsuper, rolcreaterole, rolpassword LIKE 'SCRAM-SHA-256$%', "
                           f"pg_has_role('{role}', 'shoplens_readonly', 'member') FROM pg_authid "
                           f"WHERE rolname = '{role}';")  # fmt: skip
        assert info.stdout.split() == ["t", "f", "f", "t", "t"], info.stdout + info.stderr
        as_role = {"PGUSER": role, "PGPASSWORD": password}
        assert psql(url, "SELECT visitors FROM kpis;", **as_role).stdout.split() == ["7"]
        denied = psql(url, "DELETE FROM kpis;", **as_role)
        assert denied.returncode != 0 and "read-only transaction" in denied.stderr
        denied = psql(url, "SET default_transaction_read_only = off; DELETE FROM kpis;", **as_role)
        assert denied.returncode != 0 and "permission denied" in denied.stderr
        assert psql(url, "SELECT count(*) FROM kpis;").stdout.split() == ["1"]
    finally:
        psql(url, f'DROP OWNED BY "{role}";')
        psql(admin, f'DROP ROLE IF EXISTS "{role}";')

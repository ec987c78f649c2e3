#!/usr/bin/env bash
# Static checks of the deployment files; no Docker engine needed. Run by CTest
# (deploy_validate, see deploy/CMakeLists.txt) or by hand:
#   deploy/validate_deploy.sh
#
#  1. promtool check config  deploy/prometheus.yml (also loads alerts.yml)
#  2. promtool check rules   deploy/alerts.yml
#  3. promtool test rules    deploy/alerts_test.yml (the alerts fire, and only then)
#  4. Grafana dashboards: valid JSON, unique panel ids, every panel and query
#     on the provisioned datasource uid, and every PromQL query parses
#     (fed to promtool as recording rules)
#  5. every maskserve_* name in dashboards, alerts and alert tests is listed
#     in deploy/metric_names.txt (histograms also with _bucket/_sum/_count);
#     names the server source does not mention are reported as notes
#  6. docker-compose config on the compose files (skipped, with a message,
#     when neither docker-compose nor `docker compose` is installed), their
#     bind-mount sources exist, and the metrics port agrees between the
#     compose file, prometheus.yml and the Dockerfiles
#  7. on Debian 12: every package the CPU image's runtime stage installs is
#     known to apt
#
# Needs promtool (Debian package prometheus) and python3; docker-compose
# (Debian package docker-compose) is optional. PROMTOOL, PYTHON and
# DOCKER_COMPOSE override the programs used.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$here"

python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=$(command -v python3 || true); fi
fi
promtool=${PROMTOOL:-$(command -v promtool || true)}
[ -n "$python" ] || { echo "validate_deploy: python3 not found" >&2; exit 1; }
[ -n "$promtool" ] || {
  echo "validate_deploy: promtool not found (Debian package 'prometheus'; scripts/setup.sh installs it)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
step() { echo; echo "== $*"; }

step "promtool check config prometheus.yml"
"$promtool" check config prometheus.yml || fail "promtool check config prometheus.yml"

step "promtool check rules alerts.yml"
"$promtool" check rules alerts.yml || fail "promtool check rules alerts.yml"

step "promtool test rules alerts_test.yml"
"$promtool" test rules alerts_test.yml || fail "promtool test rules alerts_test.yml"

step "Grafana dashboards and metric names"
# Writes $tmp/dashboard_queries.yml (every dashboard query as a recording
# rule) for promtool; exits non-zero on any problem it finds itself.
if ! "$python" - "$here" "$root" "$tmp/dashboard_queries.yml" <<'PY'
import glob, json, os, re, sys

here, root, rules_out = sys.argv[1:4]
errors = []
def err(msg): errors.append(msg)

# Provisioned datasource uid.
ds_file = os.path.join(here, "grafana/provisioning/datasources/prometheus.yml")
m = re.search(r"^\s*uid:\s*(\S+)", open(ds_file).read(), re.M)
ds_uid = m.group(1) if m else None
if not ds_uid:
    err(f"{ds_file}: no datasource uid")

# Allowed metric names.
allowed = {}
for line in open(os.path.join(here, "metric_names.txt")):
    line = line.split("#", 1)[0].split()
    if line:
        allowed[line[0]] = line[1] if len(line) > 1 else "untyped"

def known(name):
    if name in allowed:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and allowed.get(name[: -len(suffix)]) == "histogram":
            return True
    return False

NAME = re.compile(r"\bmaskserve_[A-Za-z0-9_]+")
used = {}  # name -> first place it is used
def note_names(text, where):
    for name in NAME.findall(text):
        used.setdefault(name, where)

def promql_for_promtool(expr):
    expr = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "5m", expr)
    expr = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}?", ".*", expr)  # template variables
    return expr

rules = []
dashboards = sorted(glob.glob(os.path.join(here, "grafana/dashboards/*.json")))
if not dashboards:
    err("no dashboards under grafana/dashboards/")
for path in dashboards:
    rel = os.path.relpath(path, here)
    try:
        dash = json.load(open(path))
    except ValueError as e:
        err(f"{rel}: invalid JSON: {e}")
        continue
    for key in ("uid", "title", "panels"):
        if key not in dash:
            err(f"{rel}: no '{key}'")
    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    ids = set()
    for p in walk(dash.get("panels", [])):
        where = f"{rel} panel {p.get('id')} '{p.get('title')}'"
        if p.get("id") in ids:
            err(f"{where}: duplicate panel id")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            err(f"{where}: no gridPos")
        if p.get("type") == "row":
            continue
        targets = p.get("targets", [])
        if not targets:
            err(f"{where}: no queries")
        for obj in [p] + targets:
            uid = (obj.get("datasource") or {}).get("uid")
            if uid != ds_uid:
                err(f"{where}: datasource uid {uid!r}, provisioned is {ds_uid!r}")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                err(f"{where} query {t.get('refId')}: empty expr")
                continue
            note_names(expr, where)
            rules.append((f"dashboard:{dash.get('uid', 'x').replace('-', '_')}:panel{p.get('id')}_{t.get('refId')}",
                          promql_for_promtool(expr), where))
    for v in dash.get("templating", {}).get("list", []):
        where = f"{rel} variable ${v.get('name')}"
        if v.get("type") != "query":
            continue
        if (v.get("datasource") or {}).get("uid") != ds_uid:
            err(f"{where}: datasource uid is not {ds_uid!r}")
        query = v.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        note_names(query, where)
        m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query)
        if m:
            rules.append((f"dashboard:variable_{v.get('name')}", promql_for_promtool(m.group(1)), where))
        else:
            err(f"{where}: expected label_values(<selector>, <label>), got {query!r}")

# Alert rules and their tests name metrics too.
for rel in ("alerts.yml", "alerts_test.yml"):
    note_names(open(os.path.join(here, rel)).read(), rel)

for name, where in sorted(used.items()):
    if not known(name):
        err(f"{where}: metric {name} is not in metric_names.txt")
print(f"{len(dashboards)} dashboard(s), {len(rules)} queries, {len(used)} metric names used, all listed"
      if not errors else "")

# Notes, not failures: listed names the server source never spells out.
sources = ""
for pattern in ("server/**/*.cc", "server/**/*.h", "storage/**/*.cc", "core/**/*.cc"):
    for f in glob.glob(os.path.join(root, pattern), recursive=True):
        if not f.endswith("_test.cc"):
            sources += open(f, errors="replace").read()
if sources:
    for name in sorted(allowed):
        short = name[len("maskserve_"):]
        if f'"{name}"' not in sources and f'"{short}"' not in sources:
            print(f"note: {name} (metric_names.txt) not found in the server source (yet)")

with open(rules_out, "w") as out:
    out.write("groups:\n  - name: dashboard_queries\n    rules:\n")
    for record, expr, where in rules:
        out.write(f"      - record: {json.dumps(record)}\n        expr: {json.dumps(expr)}\n")

for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
then
  fail "dashboards / metric names (see above)"
fi
for f in grafana/dashboards/*.json; do
  "$python" -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
done
if [ -s "$tmp/dashboard_queries.yml" ]; then
  echo "-- PromQL of every dashboard query:"
  "$promtool" check rules "$tmp/dashboard_queries.yml" || fail "a dashboard query is not valid PromQL"
fi

step "Compose files"
compose=()
if [ -n "${DOCKER_COMPOSE:-}" ]; then
  read -r -a compose <<<"$DOCKER_COMPOSE"
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi
if [ ${#compose[@]} -eq 0 ]; then
  echo "SKIP: docker-compose is not installed (Debian package 'docker-compose'); compose files not validated"
else
  for files in "docker-compose.yml" "docker-compose.yml docker-compose.gpu.yml" \
      "docker-compose.yml docker-compose.tls.yml"; do
    args=()
    for f in $files; do args+=(-f "$f"); done
    for profile in "" grafana; do
      what="${compose[*]} ${args[*]}${profile:+ --profile $profile} config"
      echo "-- $what"
      if [ -n "$profile" ]; then
        "${compose[@]}" "${args[@]}" --profile "$profile" config -q || fail "$what"
      else
        "${compose[@]}" "${args[@]}" config -q || fail "$what"
      fi
    done
  done
fi

# Things `config` does not check: bind-mount sources exist, and the metrics
# port is the same everywhere.
if "$python" -c 'import yaml' 2>/dev/null; then
  "$python" - "$here" "$root" <<'PY' || fail "compose cross-checks (see above)"
import os, re, sys, yaml
here, root = sys.argv[1:3]
errors = []
for name in ("docker-compose.yml", "docker-compose.gpu.yml", "docker-compose.tls.yml"):
    doc = yaml.safe_load(open(os.path.join(here, name)))
    for svc, spec in (doc.get("services") or {}).items():
        for vol in spec.get("volumes") or []:
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith((".", "/")) and not os.path.exists(os.path.join(here, src)):
                errors.append(f"{name}: {svc}: bind-mount source {src} does not exist")
        build = spec.get("build") or {}
        if isinstance(build, dict) and build.get("dockerfile"):
            df = os.path.join(here, build.get("context", "."), build["dockerfile"])
            if not os.path.exists(df):
                errors.append(f"{name}: {svc}: {os.path.relpath(df, here)} does not exist")

compose = yaml.safe_load(open(os.path.join(here, "docker-compose.yml")))
env = compose["services"]["maskserve"].get("environment") or {}
metrics_port = str(env.get("MASKSERVE_METRICS_ADDRESS", "0.0.0.0:9464")).rsplit(":", 1)[1]
prom = yaml.safe_load(open(os.path.join(here, "prometheus.yml")))
targets = [t for job in prom["scrape_configs"] if job["job_name"] == "maskserve"
           for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
if not targets:
    errors.append("prometheus.yml: no static target for job maskserve")
for t in targets:
    if t.rsplit(":", 1)[1] != metrics_port:
        errors.append(f"prometheus.yml: target {t} but MASKSERVE_METRICS_ADDRESS port is {metrics_port}")
for df in ("Dockerfile", "Dockerfile.cuda"):
    text = open(os.path.join(root, df)).read()
    exposed = set()
    for line in re.findall(r"^EXPOSE\s+(.*)$", text, re.M):
        exposed.update(p.split("/")[0] for p in line.split())
    for port in ("50051", metrics_port):
        if port not in exposed:
            errors.append(f"{df}: does not EXPOSE {port}")
    if not re.search(r"^HEALTHCHECK\b.*maskctl", text, re.M | re.S):
        errors.append(f"{df}: no HEALTHCHECK using maskctl")
    if not re.search(r"^USER\s+(?!root\b)(?!0\b)\S+", text, re.M):
        errors.append(f"{df}: runs as root")
for e in errors:
    print("  " + e, file=sys.stderr)
print("bind mounts, ports, health checks and users agree" if not errors else "")
sys.exit(1 if errors else 0)
PY
else
  echo "SKIP: python3-yaml missing; compose cross-checks not run"
fi

step "Runtime packages of the CPU image"
# The Debian 12 packages the runtime stage of ../Dockerfile installs must
# exist (installed, or known to apt) on this Debian host.
if command -v apt-cache >/dev/null 2>&1 && grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release; then
  packages=$("$python" - "$root/Dockerfile" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
runtime = text[text.index("AS runtime"):]
m = re.search(r"apt-get install ([^&]*)", runtime)
print(" ".join(w for w in m.group(1).split() if not w.startswith("-")) if m else "")
PY
)
  [ -n "$packages" ] || fail "no apt-get install found in the runtime stage of Dockerfile"
  before=$failures
  for p in $packages; do
    candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
      fail "Dockerfile runtime package $p is unknown to apt"
    fi
  done
  [ "$failures" -gt "$before" ] || echo "$(wc -w <<<"$packages") packages known to apt: $packages"
else
  echo "SKIP: not a Debian 12 host with apt-cache"
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "validate_deploy: $failures check(s) failed" >&2
  exit 1
fi
echo "validate_deploy: all checks passed"

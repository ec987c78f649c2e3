#!/usr/bin/env bash
# Static checks of the deployment files; no Docker engine needed. Run by CTest
# (deploy_validate, see deploy/CMakeLists.txt) or by hand:
#   deploy/validate_deploy.sh
#
#  1. promtool check config  deploy/prometheus.yml and
#     deploy/prometheus.scale-out.yml (both load alerts.yml)
#  2. promtool check rules   deploy/alerts.yml
#  3. promtool test rules    deploy/alerts_test.yml (the alerts fire, and only then)
#  4. Grafana dashboards: valid JSON, unique panel ids, every panel and query
#     on the provisioned datasource uid, and every PromQL query parses
#     (fed to promtool as recording rules)
#  5. every maskserve_* name in dashboards, alerts and alert tests is listed
#     in deploy/metric_names.txt (histograms also with _bucket/_sum/_count);
#     names the server source does not mention are reported as notes
#  6. nginx -t on deploy/nginx/maskserve.conf (the scale-out proxy), tested
#     as a copy with the replica names replaced by 127.0.0.1 ports (they
#     resolve only inside compose) inside a minimal nginx.conf; skipped, with
#     a message, when nginx is not installed, unless MASKSERVE_REQUIRE_NGINX=1
#  7. docker-compose config on the compose files (skipped, with a message,
#     when neither docker-compose nor `docker compose` is installed):
#     docker-compose.yml alone, with the GPU and with the TLS override, and
#     the standalone docker-compose.scale-out.yml, each also with the
#     `grafana` profile
#  8. compose cross-checks (python3-yaml): bind-mount and secret sources
#     exist (files under ./secrets are git-ignored: they need only be
#     documented in secrets/README.md), the metrics port agrees between the
#     compose file, prometheus.yml and the Dockerfiles; for the scale-out
#     file: every target of prometheus.scale-out.yml is a compose service on
#     its metrics port, with the role label of its MASKSERVE_ROLES, and every
#     maskserve service is scraped; nginx's upstream lists exactly the
#     serving replicas on their gRPC port (and nginx depends_on them); no
#     password in MASKSERVE_STORE; the maskserve services keep the hardening
#     of docker-compose.yml
#  9. on Debian 12: every package the CPU image's runtime stage installs is
#     known to apt
#
# Needs promtool (Debian package prometheus) and python3; docker-compose
# (Debian package docker-compose) and nginx (Debian package nginx) are
# optional. PROMTOOL, PYTHON, DOCKER_COMPOSE and NGINX_BIN override the
# programs used (NGINX_BIN= skips the nginx check, or fails it with
# MASKSERVE_REQUIRE_NGINX=1).
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

for config in prometheus.yml prometheus.scale-out.yml; do
  step "promtool check config $config"
  "$promtool" check config "$config" || fail "promtool check config $config"
done

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

step "nginx -t nginx/maskserve.conf"
# maskserve.conf is an http-level include (the official image mounts it as
# /etc/nginx/conf.d/default.conf). Test it as nginx would load it, inside a
# minimal nginx.conf, with every upstream server's host replaced by
# 127.0.0.1 (a port each) and the log and temp paths under $tmp.
# NGINX_BIN overrides the program (not NGINX: nginx itself reads that
# variable, for sockets inherited on a binary upgrade); NGINX_BIN= (empty)
# counts as "not installed".
if [ -n "${NGINX_BIN+set}" ]; then
  nginx=$NGINX_BIN
else
  nginx=$(command -v nginx || true)
  if [ -z "$nginx" ] && [ -x /usr/sbin/nginx ]; then nginx=/usr/sbin/nginx; fi  # not in a user's PATH
fi
if [ -z "$nginx" ]; then
  if [ "${MASKSERVE_REQUIRE_NGINX:-0}" = 1 ]; then
    fail "nginx not found and MASKSERVE_REQUIRE_NGINX=1 (Debian package 'nginx')"
  else
    echo "SKIP: nginx is not installed (Debian package 'nginx'); nginx/maskserve.conf not tested"
  fi
else
  mkdir -p "$tmp/nginx"
  if "$python" - nginx/maskserve.conf "$tmp/nginx" <<'PY'
import os, re, sys
src, out = sys.argv[1:3]
text = open(src).read()
hosts = {}
def local(m):
    host = m.group(2)
    if host not in hosts:
        hosts[host] = 50061 + len(hosts)
    return f"{m.group(1)}127.0.0.1:{hosts[host]}"
def upstream(m):
    return re.sub(r"(^\s*server\s+)([A-Za-z0-9_.-]+):\d+", local, m.group(0), flags=re.M)
text = re.sub(r"^\s*upstream\s+\S+\s*\{.*?^\s*\}", upstream, text, flags=re.M | re.S)
if not hosts:
    sys.exit(f"{src}: no upstream servers found")
text = re.sub(r"(^\s*access_log\s+)/\S+", lambda m: m.group(1) + os.path.join(out, "access.log"),
              text, flags=re.M)
open(os.path.join(out, "maskserve.conf"), "w").write(text)
temp = "\n".join(f"    {kind}_temp_path {out}/{kind}_temp;"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
open(os.path.join(out, "nginx.conf"), "w").write(f"""pid {out}/nginx.pid;
error_log {out}/error.log;
events {{}}
http {{
{temp}
    include {out}/maskserve.conf;
}}
""")
print("upstream servers tested as " + ", ".join(f"{h} -> 127.0.0.1:{p}" for h, p in hosts.items()))
PY
  then
    env -u NGINX "$nginx" -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" \
      && echo "nginx -t: nginx/maskserve.conf is valid ($("$nginx" -v 2>&1))" \
      || fail "nginx -t nginx/maskserve.conf"
  else
    fail "cannot prepare nginx/maskserve.conf for nginx -t"
  fi
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
      "docker-compose.yml docker-compose.tls.yml" "docker-compose.scale-out.yml"; do
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

# Things `config` does not check: bind-mount and secret sources exist, the
# metrics port is the same everywhere, and the scale-out file, its nginx
# upstream and its Prometheus targets name the same services.
if "$python" -c 'import yaml' 2>/dev/null; then
  "$python" - "$here" "$root" <<'PY' || fail "compose cross-checks (see above)"
import os, re, sys, yaml
here, root = sys.argv[1:3]
errors = []

# Files under ./secrets are git-ignored (secrets/.gitignore): a checkout has
# none of them, so they need only be documented in secrets/README.md.
secrets_readme = open(os.path.join(here, "secrets/README.md")).read()
def check_source(name, what, src):
    if not src.startswith((".", "/")):
        return  # a named volume
    rel = os.path.normpath(src)
    if rel.startswith("secrets" + os.sep):
        if not os.path.isdir(os.path.join(here, "secrets")):
            errors.append(f"{name}: {what}: {src}: deploy/secrets/ does not exist")
        elif f"`{rel[len('secrets/'):]}`" not in secrets_readme:
            errors.append(f"{name}: {what}: {src} is not documented in secrets/README.md")
    elif not os.path.exists(os.path.join(here, src)):
        errors.append(f"{name}: {what}: source {src} does not exist")

compose_files = ("docker-compose.yml", "docker-compose.gpu.yml", "docker-compose.tls.yml",
                 "docker-compose.scale-out.yml")
for name in compose_files:
    doc = yaml.safe_load(open(os.path.join(here, name)))  # resolves anchors and <<
    for secret, spec in (doc.get("secrets") or {}).items():
        if isinstance(spec, dict) and spec.get("file"):
            check_source(name, f"secret {secret}", spec["file"])
    for svc, spec in (doc.get("services") or {}).items():
        for vol in spec.get("volumes") or []:
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            check_source(name, f"{svc}: bind mount", src)
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

# The scale-out stack: compose services, nginx upstream, Prometheus targets.
name = "docker-compose.scale-out.yml"
scale = yaml.safe_load(open(os.path.join(here, name)))
services = scale.get("services") or {}
def port_of(address):
    return str(address).rsplit(":", 1)[1]
maskserve = {svc: spec for svc, spec in services.items()
             if str(spec.get("image", "")).startswith("maskserve:")}
serving, roles = set(), {}
for svc, spec in maskserve.items():
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    spec["_env"] = env
    roles[svc] = set(str(env.get("MASKSERVE_ROLES", "serve,train")).split(","))
    if "serve" in roles[svc]:
        serving.add(svc)
    store = str(env.get("MASKSERVE_STORE", ""))
    if not store.startswith(("postgresql://", "postgres://")):
        errors.append(f"{name}: {svc}: MASKSERVE_STORE is not a PostgreSQL URI")
    if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", store) or re.search(r"[?&]password=", store):
        errors.append(f"{name}: {svc}: MASKSERVE_STORE holds a password (use the password file)")
    passfile = env.get("PGPASSFILE")
    targets_mounted = [v.split(":")[1] for v in spec.get("volumes") or [] if isinstance(v, str)]
    if not passfile or not any(passfile.startswith(t.rstrip("/") + "/") for t in targets_mounted):
        errors.append(f"{name}: {svc}: PGPASSFILE ({passfile}) is not on a mounted path")
    # The hardening of docker-compose.yml.
    if spec.get("read_only") is not True:
        errors.append(f"{name}: {svc}: not read_only")
    if "ALL" not in (spec.get("cap_drop") or []):
        errors.append(f"{name}: {svc}: does not drop all capabilities")
    if not any("no-new-privileges" in str(o) for o in spec.get("security_opt") or []):
        errors.append(f"{name}: {svc}: no no-new-privileges")
    if "/tmp" not in (spec.get("tmpfs") or []):
        errors.append(f"{name}: {svc}: no tmpfs on /tmp")
    if "maskctl" not in " ".join((spec.get("healthcheck") or {}).get("test") or []):
        errors.append(f"{name}: {svc}: no healthcheck with maskctl")
    data_dir = env.get("MASKSERVE_DATA_DIR", "/var/lib/maskserve")
    if not any(data_dir.startswith(t) for t in (spec.get("tmpfs") or []) + targets_mounted):
        errors.append(f"{name}: {svc}: MASKSERVE_DATA_DIR {data_dir} is on the read-only root")
if not serving:
    errors.append(f"{name}: no serving replica (MASKSERVE_ROLES with 'serve')")
if not any("train" in r for r in roles.values()):
    errors.append(f"{name}: no trainer (MASKSERVE_ROLES with 'train')")
if "postgres" not in services:
    errors.append(f"{name}: no postgres service")

# nginx: the upstream is exactly the serving replicas, on their gRPC port.
conf_text = open(os.path.join(here, "nginx/maskserve.conf")).read()
conf_text = re.sub(r"(^|\s)#.*$", "", conf_text, flags=re.M)
upstream = {}
for block in re.findall(r"^\s*upstream\s+\S+\s*\{(.*?)\}", conf_text, re.M | re.S):
    for host, port in re.findall(r"^\s*server\s+([A-Za-z0-9_.-]+):(\d+)", block, re.M):
        upstream[host] = port
for host, port in upstream.items():
    if host not in services:
        errors.append(f"nginx/maskserve.conf: upstream server {host} is not a service of {name}")
    elif host not in serving:
        errors.append(f"nginx/maskserve.conf: upstream server {host} does not serve (MASKSERVE_ROLES)")
    elif port != port_of(maskserve[host]["_env"].get("MASKSERVE_ADDRESS", "0.0.0.0:50051")):
        errors.append(f"nginx/maskserve.conf: upstream {host}:{port} but its MASKSERVE_ADDRESS differs")
for svc in sorted(serving - set(upstream)):
    errors.append(f"nginx/maskserve.conf: serving replica {svc} of {name} is not in the upstream")
nginx_deps = (services.get("nginx") or {}).get("depends_on") or []
for host in sorted(set(upstream) - set(nginx_deps)):
    # nginx exits at start-up when an upstream name does not resolve yet.
    errors.append(f"{name}: nginx does not depend_on upstream server {host}")
nginx_mounts = [v for v in (services.get("nginx") or {}).get("volumes") or []]
if not any(str(v).startswith("./nginx/maskserve.conf:") for v in nginx_mounts):
    errors.append(f"{name}: nginx does not mount ./nginx/maskserve.conf")

# Prometheus: every target is a service on its metrics port with the role of
# its MASKSERVE_ROLES, and every maskserve service is scraped.
prom_name = "prometheus.scale-out.yml"
prom = yaml.safe_load(open(os.path.join(here, prom_name)))
if "alerts.yml" not in (prom.get("rule_files") or []):
    errors.append(f"{prom_name}: does not load alerts.yml")
scraped = set()
for job in prom.get("scrape_configs") or []:
    if job.get("job_name") != "maskserve":
        continue
    for sc in job.get("static_configs") or []:
        for t in sc.get("targets") or []:
            host, port = t.rsplit(":", 1)
            scraped.add(host)
            if host not in services:
                errors.append(f"{prom_name}: target {t} is not a service of {name}")
                continue
            if host not in maskserve:
                errors.append(f"{prom_name}: target {t} is not a maskserve service")
                continue
            env = maskserve[host]["_env"]
            if port != port_of(env.get("MASKSERVE_METRICS_ADDRESS", "0.0.0.0:9464")):
                errors.append(f"{prom_name}: target {t} but its MASKSERVE_METRICS_ADDRESS differs")
            want = "serving" if "serve" in roles[host] else "training"
            if (sc.get("labels") or {}).get("role") != want:
                errors.append(f"{prom_name}: target {t} needs labels: role: {want}")
for svc in sorted(set(maskserve) - scraped):
    errors.append(f"{prom_name}: maskserve service {svc} of {name} is not scraped")
prom_mounts = (services.get("prometheus") or {}).get("volumes") or []
if f"./{prom_name}:/etc/prometheus/prometheus.yml:ro" not in prom_mounts:
    errors.append(f"{name}: prometheus does not mount ./{prom_name}")

for e in errors:
    print("  " + e, file=sys.stderr)
print(f"bind mounts, secrets, ports, health checks and users agree; {name}: "
      f"{len(serving)} serving replicas in the nginx upstream, {len(scraped)} maskserve targets"
      if not errors else "")
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

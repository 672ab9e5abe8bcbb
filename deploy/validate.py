#!/usr/bin/env python3
"""Checks behind deploy/validate.sh that no off-the-shelf validator makes.

Each subcommand prints the problems it finds on standard error and exits 1 when there is one;
it is run by validate.sh with the Python of its cache (PyYAML, jsonschema, kubernetes-validate):

  dockerfile DOCKERFILE DOCKERIGNORE   targets, distroless non-root runtimes, health checks
  compose RESOLVED                     the output of `docker-compose config`: services, probes
  k8s RENDERED PROFILE SECRETS VERSION every rendered manifest against its schema (built-in
                                       kinds: kubernetes-validate, strict; custom resources:
                                       minimal schemas below), then the deployment policy
  systemd DIR                          hardening directives of every unit
  envfiles REPO                        every variable the Rust code reads is in its example file
  metrics ALERTS DASHBOARD             every metric named in the rules and panels is one the
                                       services (or kube-state-metrics, blackbox) expose
  dashboard-rules DASHBOARD OUT        writes the panels' queries as recording rules, so that
                                       `promtool check rules OUT` parses them
"""

from __future__ import annotations

import configparser
import json
import re
import sys
from pathlib import Path

import yaml

PROBLEMS: list[str] = []


def problem(msg: str) -> None:
    PROBLEMS.append(msg)


def finish() -> None:
    for p in PROBLEMS:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1 if PROBLEMS else 0)


# ----------------------------------------------------------------------------------- Dockerfile

TARGETS = {
    # target: (binary, port, healthcheck path)
    "booking-service": ("booking-service", 8080),
    "notifier": ("notifier", 9102),
    "registry": ("registry", 8081),
}
RUNTIME = "gcr.io/distroless/cc-debian12:nonroot"


def dockerfile(path: str, ignore: str) -> None:
    lines = Path(path).read_text().splitlines()
    # Join continuation lines, drop comments.
    instrs: list[str] = []
    buf = ""
    for raw in lines:
        if not buf and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            instrs.append(buf.strip())
        buf = ""
    stages: dict[str, dict] = {}
    current = None
    for ins in instrs:
        word, _, rest = ins.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            current = {"image": m.group(1), "users": [], "healthcheck": None, "body": []}
            stages[(m.group(2) or m.group(1)).lower()] = current
        elif current is not None:
            current["body"].append(ins)
            if word == "USER":
                current["users"].append(rest.strip())
            elif word == "HEALTHCHECK":
                current["healthcheck"] = rest.strip()
    builder = stages.get("builder")
    if not builder or not builder["image"].startswith("rust:1.95-bookworm"):
        problem("a `builder` stage FROM rust:1.95-bookworm is expected")
    else:
        body = "\n".join(builder["body"])
        for needle in ("--release", "--locked", "--mount=type=cache", "COPY migrations"):
            if needle not in body:
                problem(f"builder stage lacks `{needle}`")
    for target, (binary, port) in TARGETS.items():
        st = stages.get(target)
        if st is None:
            problem(f"no target `{target}`")
            continue
        if st["image"] != RUNTIME:
            problem(f"{target}: runtime must be {RUNTIME}, not {st['image']}")
        if not st["users"] or st["users"][-1] not in ("65532", "65532:65532", "nonroot", "nonroot:nonroot"):
            problem(f"{target}: the last USER must be 65532 (non-root), found {st['users'] or 'none'}")
        if any(u.split(":")[0] in ("root", "0") for u in st["users"]):
            problem(f"{target}: USER root in a runtime stage")
        hc = st["healthcheck"] or ""
        want = f'"/usr/local/bin/{binary}", "healthcheck", "--url", "http://127.0.0.1:{port}/healthz"'
        if "CMD [" not in hc or want not in hc:
            problem(f"{target}: HEALTHCHECK must run, in exec form, {want}")
        body = "\n".join(st["body"])
        if not re.search(rf'ENTRYPOINT \["/usr/local/bin/{binary}"\]', body):
            problem(f"{target}: ENTRYPOINT must be the binary in exec form")
        if f"EXPOSE {port}" not in body:
            problem(f"{target}: EXPOSE {port} missing")
        if re.search(r"^RUN ", body, re.M):
            problem(f"{target}: a RUN in a distroless stage (there is no shell)")
    excluded = {l.strip().rstrip("/") for l in Path(ignore).read_text().splitlines()}
    for must in (".git", "target", "demo-data"):
        if must not in excluded and f"**/{must}" not in excluded:
            problem(f"{ignore}: `{must}` is not excluded")
    finish()


# -------------------------------------------------------------------------------------- compose

def compose(resolved: str) -> None:
    doc = yaml.safe_load(Path(resolved).read_text())
    services = doc.get("services", {})
    for name in ("postgres", "redis", "mailpit", "migrate", "seed-demo", "seed-registry",
                 "booking-1", "booking-2", "notifier-1", "notifier-2", "registry", "proxy"):
        if name not in services:
            problem(f"service `{name}` missing")
    one_shot = {"migrate", "seed-demo", "seed-registry"}
    for name, svc in services.items():
        hc = svc.get("healthcheck") or {}
        if name in one_shot:
            if svc.get("restart") not in ("no", None):
                problem(f"{name}: a one-shot job must not restart")
            continue
        if not hc.get("test") or hc.get("disable"):
            problem(f"{name}: no healthcheck")
        for dep, cond in (svc.get("depends_on") or {}).items():
            c = cond.get("condition") if isinstance(cond, dict) else None
            wanted = "service_completed_successfully" if dep in one_shot else "service_healthy"
            if c != wanted:
                problem(f"{name}: depends_on {dep} should wait for {wanted}, not {c}")
    proxy_ip = (((services.get("proxy") or {}).get("networks") or {}).get("rdv") or {}).get("ipv4_address")
    for name in ("booking-1", "booking-2", "notifier-1", "notifier-2", "registry", "migrate", "seed-demo", "seed-registry"):
        svc = services.get(name) or {}
        if not svc.get("read_only") or "ALL" not in (svc.get("cap_drop") or []):
            problem(f"{name}: read_only and cap_drop ALL expected")
        env = svc.get("environment") or {}
        if name.startswith(("booking", "notifier")) and len(str(env.get("APP_SECRET", ""))) < 32:
            problem(f"{name}: APP_SECRET missing or shorter than 32 characters")
        if name in ("booking-1", "booking-2", "registry") and env.get("TRUSTED_PROXIES") != f"{proxy_ip}/32":
            problem(f"{name}: TRUSTED_PROXIES must be the proxy's address {proxy_ip}/32")
    for name in ("notifier-1", "notifier-2"):
        env = (services.get(name) or {}).get("environment") or {}
        if env.get("NOTIFIER_HTTP_ADDR") != "0.0.0.0:9102":
            problem(f"{name}: NOTIFIER_HTTP_ADDR must be 0.0.0.0:9102")
        if not str(env.get("SMTP_URL", "")).startswith("smtp://mailpit:1025"):
            problem(f"{name}: SMTP_URL must point at mailpit")
    finish()


# ----------------------------------------------------------------------------------- Kubernetes

REF = {"type": "object", "required": ["name", "key"],
       "properties": {"name": {"type": "string"}, "key": {"type": "string"}}, "additionalProperties": False}

# Minimal schemas of the custom resources (their CRDs are not in kubernetes-validate): the
# fields this repository uses, typed, and no unknown top-level field of `spec` (catches typos).
CNPG_CLUSTER = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "postgresql.cnpg.io/v1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["instances", "storage"],
            "additionalProperties": False,
            "properties": {
                "instances": {"type": "integer", "minimum": 1},
                "imageName": {"type": "string", "pattern": r"^[^:]+:[0-9][^:]*$"},
                "primaryUpdateStrategy": {"enum": ["supervised", "unsupervised"]},
                "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
                "enableSuperuserAccess": {"type": "boolean"},
                "description": {"type": "string"},
                "bootstrap": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "initdb": {
                            "type": "object", "additionalProperties": False,
                            "properties": {
                                "database": {"type": "string"}, "owner": {"type": "string"},
                                "secret": {"type": "object"}, "encoding": {"type": "string"},
                                "postInitApplicationSQL": {"type": "array", "items": {"type": "string"}},
                                "postInitSQL": {"type": "array", "items": {"type": "string"}},
                                "dataChecksums": {"type": "boolean"},
                            },
                        },
                        "recovery": {"type": "object"},
                        "pg_basebackup": {"type": "object"},
                    },
                },
                "postgresql": {
                    "type": "object",
                    "properties": {"parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "pg_hba": {"type": "array", "items": {"type": "string"}}},
                },
                "storage": {"type": "object", "required": ["size"],
                            "properties": {"size": {"type": "string"}, "storageClass": {"type": "string"}}},
                "walStorage": {"type": "object", "required": ["size"],
                               "properties": {"size": {"type": "string"}, "storageClass": {"type": "string"}}},
                "resources": {"type": "object", "additionalProperties": False,
                              "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}}},
                "affinity": {"type": "object", "additionalProperties": False,
                             "properties": {"enablePodAntiAffinity": {"type": "boolean"},
                                            "topologyKey": {"type": "string"},
                                            "podAntiAffinityType": {"enum": ["preferred", "required"]},
                                            "nodeSelector": {"type": "object"}, "tolerations": {"type": "array"}}},
                "monitoring": {"type": "object"},
                "backup": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "retentionPolicy": {"type": "string", "pattern": r"^[1-9][0-9]*[dwm]$"},
                        "target": {"enum": ["primary", "prefer-standby"]},
                        "barmanObjectStore": {
                            "type": "object", "required": ["destinationPath"], "additionalProperties": False,
                            "properties": {
                                "destinationPath": {"type": "string", "pattern": r"^(s3|gs|https?)://"},
                                "endpointURL": {"type": "string", "pattern": r"^https?://"},
                                "s3Credentials": {"type": "object", "additionalProperties": False,
                                                  "properties": {"accessKeyId": REF, "secretAccessKey": REF,
                                                                 "region": REF, "sessionToken": REF,
                                                                 "inheritFromIAMRole": {"type": "boolean"}}},
                                "wal": {"type": "object", "additionalProperties": False,
                                        "properties": {"compression": {"enum": ["gzip", "bzip2", "snappy"]},
                                                       "maxParallel": {"type": "integer", "minimum": 1},
                                                       "encryption": {"type": "string"}}},
                                "data": {"type": "object", "additionalProperties": False,
                                         "properties": {"compression": {"enum": ["gzip", "bzip2", "snappy"]},
                                                        "jobs": {"type": "integer", "minimum": 1},
                                                        "immediateCheckpoint": {"type": "boolean"},
                                                        "encryption": {"type": "string"}}},
                            },
                        },
                    },
                },
            },
        },
    },
}
CNPG_SCHEDULED_BACKUP = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"const": "postgresql.cnpg.io/v1"},
        "spec": {
            "type": "object", "required": ["schedule", "cluster"], "additionalProperties": False,
            "properties": {
                # Six fields: CloudNativePG's cron has seconds.
                "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
                "cluster": {"type": "object", "required": ["name"], "additionalProperties": False,
                            "properties": {"name": {"type": "string"}}},
                "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
                "immediate": {"type": "boolean"},
                "suspend": {"type": "boolean"},
                "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
                "target": {"enum": ["primary", "prefer-standby"]},
            },
        },
    },
}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "spec": {
            "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
            "properties": {
                "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
                "namespaceSelector": {"type": "object"},
                "jobLabel": {"type": "string"},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                   "interval": {"type": "string", "pattern": r"^[0-9]+[smh]$"},
                                   "scrapeTimeout": {"type": "string"}, "scheme": {"enum": ["http", "https"]},
                                   "honorLabels": {"type": "boolean"}, "relabelings": {"type": "array"},
                                   "metricRelabelings": {"type": "array"}}}},
            },
        },
    },
}
CUSTOM = {
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): CNPG_SCHEDULED_BACKUP,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
}

APPS = {
    # Deployment: (container port, readiness path, liveness path)
    "booking-service": (8080, "/readyz", "/healthz"),
    "notifier": (9102, "/readyz", "/healthz"),
    "registry": (8081, "/readyz", "/healthz"),
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def pod_spec(doc: dict) -> dict | None:
    spec = doc.get("spec") or {}
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return (spec.get("template") or {}).get("spec")
    if doc["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return None


def labels_match(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def k8s(rendered: str, profile: str, secrets_example: str, version: str) -> None:
    import jsonschema
    import kubernetes_validate

    docs = [d for d in yaml.safe_load_all(Path(rendered).read_text()) if d]
    if not docs:
        problem("nothing rendered")
    # 1. Schemas.
    for d in docs:
        ident = f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
        key = (d.get("apiVersion"), d.get("kind"))
        if key in CUSTOM:
            for err in jsonschema.Draft202012Validator(CUSTOM[key]).iter_errors(d):
                path = "/".join(str(p) for p in err.absolute_path)
                problem(f"{ident}: {path}: {err.message}")
            continue
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            problem(f"{ident}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problem(f"{ident}: no schema for {key[0]} {key[1]} (add a minimal one to validate.py)")

    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

    # 2. No secret values in what is rendered; every referenced Secret and key is documented.
    if "Secret" in by_kind:
        problem(f"Secret(s) {sorted(by_kind['Secret'])} rendered: secret values stay outside the kustomization")
    example = {d["metadata"]["name"]: set((d.get("stringData") or d.get("data") or {}).keys())
               for d in yaml.safe_load_all(Path(secrets_example).read_text()) if d}
    for d in yaml.safe_load_all(Path(secrets_example).read_text()):
        if d:
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problem(f"{secrets_example}: {d['metadata']['name']}: {e.message}")
    # rdv-db-app: created by CloudNativePG for the Cluster rdv-db.
    example.setdefault("rdv-db-app", {"uri", "username", "password", "host", "port", "dbname"})
    secret_refs: set[tuple[str, str]] = set()

    def walk_refs(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k == "secretKeyRef":
                    secret_refs.add((v["name"], v["key"]))
                elif k in ("accessKeyId", "secretAccessKey") and isinstance(v, dict) and "key" in v:
                    secret_refs.add((v["name"], v["key"]))
                else:
                    walk_refs(v)
        elif isinstance(obj, list):
            for v in obj:
                walk_refs(v)

    walk_refs(docs)
    for name, key in sorted(secret_refs):
        if name not in example:
            problem(f"Secret {name} is referenced but not in {secrets_example}")
        elif key not in example[name] and f"# {key}" not in Path(secrets_example).read_text():
            problem(f"Secret {name} key {key} is referenced but not in {secrets_example}")

    # 3. Workloads: security, resources, images, probes.
    config_maps = set(by_kind.get("ConfigMap", {}))
    pods: list[tuple[str, dict]] = []
    for kind in ("Deployment", "StatefulSet", "Job"):
        for name, d in by_kind.get(kind, {}).items():
            spec = pod_spec(d)
            labels = d["spec"]["template"]["metadata"].get("labels", {})
            pods.append((f"{kind}/{name}", labels))
            psc = spec.get("securityContext") or {}
            if psc.get("runAsNonRoot") is not True:
                problem(f"{kind}/{name}: pod securityContext.runAsNonRoot must be true")
            if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problem(f"{kind}/{name}: seccompProfile RuntimeDefault expected")
            if spec.get("automountServiceAccountToken") is not False:
                problem(f"{kind}/{name}: automountServiceAccountToken must be false")
            if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
                problem(f"{kind}/{name}: host namespaces are not allowed")
            volumes = {v["name"] for v in spec.get("volumes") or []}
            for v in spec.get("volumes") or []:
                if "hostPath" in v:
                    problem(f"{kind}/{name}: hostPath volume {v['name']}")
                if "configMap" in v and v["configMap"]["name"] not in config_maps:
                    problem(f"{kind}/{name}: volume from unknown ConfigMap {v['configMap']['name']}")
            for c in (spec.get("initContainers") or []) + spec["containers"]:
                cid = f"{kind}/{name}[{c['name']}]"
                sc = c.get("securityContext") or {}
                if sc.get("allowPrivilegeEscalation") is not False:
                    problem(f"{cid}: allowPrivilegeEscalation must be false")
                if sc.get("readOnlyRootFilesystem") is not True:
                    problem(f"{cid}: readOnlyRootFilesystem must be true")
                if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                    problem(f"{cid}: capabilities must drop ALL")
                if sc.get("privileged"):
                    problem(f"{cid}: privileged")
                res = c.get("resources") or {}
                for part in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in (res.get(part) or {}):
                            problem(f"{cid}: resources.{part}.{r} missing")
                image = c.get("image", "")
                tag = image.rsplit("/", 1)[-1]
                if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
                    problem(f"{cid}: image {image!r} must carry a pinned tag (not latest) or a digest")
                for m in c.get("volumeMounts") or []:
                    if m["name"] not in volumes:
                        problem(f"{cid}: mounts unknown volume {m['name']}")
                for ef in c.get("envFrom") or []:
                    if "configMapRef" in ef and ef["configMapRef"]["name"] not in config_maps:
                        problem(f"{cid}: envFrom unknown ConfigMap {ef['configMapRef']['name']}")
                ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
                for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
                    probe = c.get(probe_name)
                    if probe and "httpGet" in probe:
                        port = probe["httpGet"].get("port")
                        if isinstance(port, str) and port not in ports:
                            problem(f"{cid}: {probe_name} port {port} is not a named container port")

    for app, (port, ready, live) in APPS.items():
        d = by_kind.get("Deployment", {}).get(app)
        if d is None:
            problem(f"Deployment {app} missing")
            continue
        spec = pod_spec(d)
        c = spec["containers"][0]
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        if port not in ports.values():
            problem(f"Deployment {app}: container port {port} expected")

        def probe_path(name):
            p = c.get(name) or {}
            g = p.get("httpGet") or {}
            target = ports.get(g.get("port"), g.get("port"))
            return g.get("path"), target

        for name, want in (("readinessProbe", ready), ("livenessProbe", live), ("startupProbe", live)):
            path, target = probe_path(name)
            if path != want or target != port:
                problem(f"Deployment {app}: {name} must be GET {want} on port {port} (found {path} on {target})")
        if spec.get("terminationGracePeriodSeconds") != 30:
            problem(f"Deployment {app}: terminationGracePeriodSeconds 30 expected")
        env = {e["name"]: e for e in c.get("env") or []}
        if app == "booking-service" and env.get("BIND_ADDR", {}).get("value") != "0.0.0.0:8080":
            problem("booking-service: BIND_ADDR must be 0.0.0.0:8080")
        if app == "notifier" and env.get("NOTIFIER_HTTP_ADDR", {}).get("value") != "0.0.0.0:9102":
            problem("notifier: NOTIFIER_HTTP_ADDR must be 0.0.0.0:9102")
        if app == "registry" and env.get("BIND_ADDR", {}).get("value") != "0.0.0.0:8081":
            problem("registry: BIND_ADDR must be 0.0.0.0:8081")
    notifier = by_kind.get("Deployment", {}).get("notifier")
    if notifier and notifier["spec"].get("replicas", 1) < 2:
        problem("Deployment notifier: at least 2 replicas")
    job = by_kind.get("Job", {}).get("booking-migrate")
    if not job or pod_spec(job)["containers"][0].get("args") != ["migrate"]:
        problem("Job booking-migrate running `booking-service migrate` missing")

    # 4. Services, PDBs and the HPA point at something.
    for name, s in by_kind.get("Service", {}).items():
        sel = s["spec"].get("selector")
        if sel is None:
            continue
        if not any(labels_match(sel, labels) for _, labels in pods):
            problem(f"Service {name}: its selector {sel} matches no pod template")
    for name, p in by_kind.get("PodDisruptionBudget", {}).items():
        if p["apiVersion"] != "policy/v1":
            problem(f"PodDisruptionBudget {name}: policy/v1 expected")
        sel = p["spec"]["selector"].get("matchLabels")
        if not any(labels_match(sel, labels) for _, labels in pods):
            problem(f"PodDisruptionBudget {name}: its selector matches no pod template")
    if "booking-service" not in by_kind.get("PodDisruptionBudget", {}):
        problem("PodDisruptionBudget booking-service missing")
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("booking-service")
    if not hpa or hpa["apiVersion"] != "autoscaling/v2":
        problem("HorizontalPodAutoscaler booking-service (autoscaling/v2) missing")
    else:
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] not in by_kind.get("Deployment", {}):
            problem("HPA booking-service: scaleTargetRef is not a rendered Deployment")
        if not any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])):
            problem("HPA booking-service: a CPU metric is expected")
        if "replicas" in by_kind["Deployment"].get("booking-service", {}).get("spec", {}):
            problem("Deployment booking-service sets replicas: the HPA owns them")
        if profile == "production" and (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) != (3, 12):
            problem("production: the HPA must range from 3 to 12 booking pods")

    # 5. Ingress: TLS through cert-manager, backends exist, hosts agree with PUBLIC_BASE_URL.
    services = by_kind.get("Service", {})
    ingresses = by_kind.get("Ingress", {})
    if not ingresses:
        problem("no Ingress")
    config = next((c["data"] for n, c in by_kind.get("ConfigMap", {}).items() if n.startswith("rdv-config")), {})
    public_host = re.sub(r"^https?://", "", config.get("PUBLIC_BASE_URL", "")).split("/")[0]
    for name, ing in ingresses.items():
        ann = ing["metadata"].get("annotations") or {}
        if not any(k.startswith("cert-manager.io/") for k in ann):
            problem(f"Ingress {name}: no cert-manager annotation")
        tls_hosts = {h for t in ing["spec"].get("tls") or [] for h in t.get("hosts", []) if t.get("secretName")}
        for rule in ing["spec"].get("rules", []):
            if rule.get("host") not in tls_hosts:
                problem(f"Ingress {name}: host {rule.get('host')} has no TLS section with a secretName")
            if rule.get("host") != public_host:
                problem(f"Ingress {name}: host {rule.get('host')} differs from PUBLIC_BASE_URL's {public_host}")
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]
                if svc["name"] not in services:
                    problem(f"Ingress {name}: backend Service {svc['name']} missing")
                elif svc["port"].get("name") not in {q.get("name") for q in services[svc["name"]]["spec"]["ports"]}:
                    problem(f"Ingress {name}: Service {svc['name']} has no port {svc['port']}")
            paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
            if paths.get("/") != "booking-service" or paths.get("/registre") != "registry":
                problem(f"Ingress {name}: / must go to booking-service and /registre to registry")

    # 6. NetworkPolicies: default deny of ingress; the ingress controller and Prometheus let in.
    nps = by_kind.get("NetworkPolicy", {})
    if not any(np["spec"].get("podSelector") == {} and np["spec"].get("policyTypes") == ["Ingress"]
               and not np["spec"].get("ingress") for np in nps.values()):
        problem("no default-deny ingress NetworkPolicy (podSelector {}, no rule)")
    for needed in ("allow-ingress-controller", "allow-prometheus-scraping", "allow-postgres", "allow-redis",
                   "app-egress-dns-postgres", "booking-egress-redis", "app-egress-ants-https", "notifier-egress-smtp"):
        if needed not in nps:
            problem(f"NetworkPolicy {needed} missing")

    # 7. PostgreSQL and Redis.
    cluster = by_kind.get("Cluster", {}).get("rdv-db")
    if not cluster or cluster["spec"].get("instances") != 3:
        problem("CloudNativePG Cluster rdv-db with 3 instances missing")
    sts = by_kind.get("StatefulSet", {}).get("redis")
    if not sts or sts["spec"].get("replicas") != 3 or \
            {c["name"] for c in pod_spec(sts)["containers"]} != {"redis", "sentinel"}:
        problem("StatefulSet redis (3 pods, redis + sentinel) missing")

    # 8. Production only.
    if profile == "production":
        if not (cluster or {}).get("spec", {}).get("backup", {}).get("barmanObjectStore"):
            problem("production: the Cluster must archive to an object store (spec.backup.barmanObjectStore)")
        if "ScheduledBackup" not in by_kind:
            problem("production: no ScheduledBackup")
        if public_host.endswith("example.fr"):
            problem("production: PUBLIC_BASE_URL still names example.fr")
        for d in docs:
            if d["kind"] not in CLUSTER_SCOPED and not d["metadata"].get("namespace"):
                problem(f"production: {d['kind']}/{d['metadata']['name']} has no namespace")
        for name, d in by_kind.get("Deployment", {}).items():
            for c in pod_spec(d)["containers"]:
                if c["image"].startswith("mairie-rdv/"):
                    problem(f"production: Deployment {name} still uses the base image name {c['image']}")
    finish()


# -------------------------------------------------------------------------------------- systemd

HARDENING = {
    "DynamicUser": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
}
UNITS = {
    "booking-migrate.service": ("oneshot", "/etc/mairie-rdv/booking.env", "booking-service migrate"),
    "booking-service.service": ("exec", "/etc/mairie-rdv/booking.env", "booking-service serve"),
    "booking-service@.service": ("exec", "/etc/mairie-rdv/booking.env", "booking-service serve"),
    "notifier.service": ("exec", "/etc/mairie-rdv/notifier.env", "notifier run"),
    "registry.service": ("exec", "/etc/mairie-rdv/registry.env", "registry serve"),
}


class MultiDict(dict):
    """configparser storage that keeps every value of a repeated key."""

    def __setitem__(self, key, value):
        if key in self and isinstance(value, list) and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def systemd(directory: str) -> None:
    for unit, (typ, env_file, cmd) in UNITS.items():
        path = Path(directory) / unit
        if not path.exists():
            problem(f"{unit} missing")
            continue
        cp = configparser.RawConfigParser(dict_type=MultiDict, strict=False, empty_lines_in_values=False,
                                          interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
        cp.optionxform = str
        cp.read(path)
        svc = {k: v.split("\n") for k, v in cp["Service"].items()}

        def last(key):
            return svc.get(key, [None])[-1]

        for key, want in HARDENING.items():
            if last(key) != want:
                problem(f"{unit}: {key}={want} expected (found {last(key)!r})")
        filters = svc.get("SystemCallFilter", [])
        if "@system-service" not in filters:
            problem(f"{unit}: SystemCallFilter=@system-service missing")
        if not any(f.startswith("~") and "@privileged" in f for f in filters):
            problem(f"{unit}: SystemCallFilter=~@privileged missing")
        if last("Type") != typ:
            problem(f"{unit}: Type={typ} expected")
        if env_file not in svc.get("EnvironmentFile", []):
            problem(f"{unit}: EnvironmentFile={env_file} expected")
        if cmd not in (last("ExecStart") or ""):
            problem(f"{unit}: ExecStart must run `{cmd}`")
        if unit != "booking-migrate.service":
            deps = cp["Unit"].get("After", "") + " " + cp["Unit"].get("Requires", "")
            if deps.count("booking-migrate.service") < 2:
                problem(f"{unit}: Requires= and After=booking-migrate.service expected")
            if last("Restart") != "on-failure":
                problem(f"{unit}: Restart=on-failure expected")
    finish()


# ---------------------------------------------------------------------------------- env files

ENV_RE = re.compile(r'env = "([A-Z0-9_]+)"')
EXTRA_OK = {"RUST_LOG"}


def envfiles(repo: str) -> None:
    root = Path(repo)

    def read(*files):
        names = set()
        for f in files:
            names |= set(ENV_RE.findall((root / f).read_text()))
        return names

    shared_db = {"DATABASE_URL", "DATABASE_MAX_CONNECTIONS"}
    ants_api = {"ANTS_API_URL", "ANTS_API_TOKEN", "ANTS_TIMEOUT_MS"}
    expected = {
        "booking.env.example": read("booking-service/src/config.rs", "booking-service/src/main.rs"),
        "notifier.env.example": read("notifier/src/config.rs") | shared_db | ants_api,
        "registry.env.example": read("registry/src/config.rs") | shared_db,
    }
    for name, wanted in expected.items():
        text = (root / "deploy/systemd" / name).read_text()
        listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M))
        for var in sorted(wanted - listed):
            problem(f"deploy/systemd/{name}: {var} (read by the code) is not listed")
        for var in sorted(listed - wanted - EXTRA_OK):
            problem(f"deploy/systemd/{name}: {var} is listed but the code does not read it")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^#?[A-Z][A-Z0-9_]+=", line) and (i == 0 or not lines[i - 1].startswith("# ")):
                problem(f"deploy/systemd/{name}: {line.split('=')[0].lstrip('#')} has no comment line above it")
    finish()


# ------------------------------------------------------------------------------------- metrics

# What the processes expose (booking-service, notifier, registry), and what the rules and panels
# may read from elsewhere (Prometheus itself, kube-state-metrics, the blackbox exporter).
SERVICE_METRICS = {
    "http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count", "db_pool_connections", "db_pool_idle_connections",
    "db_pool_max_connections", "outbox_backlog", "outbox_oldest_age_seconds", "ants_queue_backlog",
    "ants_queue_retrying", "ants_queue_oldest_age_seconds", "ants_failures_total", "ants_unauthorized_total",
    "holds_live", "holds_placed_total", "read_model_hits_total", "read_model_misses_total",
    "rate_limited_total", "notifier_sent_total", "notifier_failures_total", "notifier_dropped_total",
    "notifier_deferred_total", "staff_password_checks_total",
}
EXTERNAL_METRICS = {
    "up", "probe_success", "kube_pod_container_status_ready",
    "kube_horizontalpodautoscaler_status_current_replicas", "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group",
    "count_values", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
    "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta", "deriv",
    "histogram_quantile", "absent", "absent_over_time", "clamp_min", "clamp_max", "abs", "vector",
    "scalar", "time", "label_replace", "sort", "sort_desc", "avg_over_time", "max_over_time",
    "min_over_time", "sum_over_time", "predict_linear", "changes", "resets", "inf", "nan", "le",
}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)        # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                 # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end():].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith("("):
            continue
        if re.fullmatch(r"[0-9.]+[smhdwy]?", word):
            continue
        names.add(word)
    return names


def dashboard_exprs(path: str) -> list[tuple[str, str]]:
    dash = json.loads(Path(path).read_text())
    out = []
    ids = set()

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash["panels"]):
        if p["id"] in ids:
            problem(f"{path}: panel id {p['id']} used twice")
        ids.add(p["id"])
        for t in p.get("targets", []):
            out.append((f"panel {p['id']} ({p['title']}) {t['refId']}", t["expr"]))
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                problem(f"{path}: panel {p['id']}: target datasource must be the ${{datasource}} variable")
    return out


def metrics(alerts: str, dashboard: str) -> None:
    known = SERVICE_METRICS | EXTERNAL_METRICS
    groups = yaml.safe_load(Path(alerts).read_text())["groups"]
    exprs = []
    names = set()
    for g in groups:
        for r in g["rules"]:
            exprs.append((f"alert {r.get('alert')}", r["expr"]))
            names.add(r.get("alert"))
            if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                problem(f"{alerts}: {r.get('alert')}: severity critical, warning or info expected")
            if not (r.get("annotations") or {}).get("summary") or not r["annotations"].get("description"):
                problem(f"{alerts}: {r.get('alert')}: summary and description expected")
    for required in ("InstanceDown", "NotReady", "HighErrorRate", "SlowBookings", "OutboxStuck",
                     "AntsTokenRefused", "AntsFailuresRising", "DatabasePoolSaturated", "AutoscalerAtMax"):
        if required not in names:
            problem(f"{alerts}: alert {required} missing")
    exprs += dashboard_exprs(dashboard)
    for where, expr in exprs:
        for name in sorted(metric_names(expr) - known):
            problem(f"{where}: unknown metric {name}")
    finish()


def dashboard_rules(dashboard: str, out: str) -> None:
    rules = [{"record": f"dashboard:check:{i}", "expr": expr.replace("$__rate_interval", "5m")}
             for i, (_, expr) in enumerate(dashboard_exprs(dashboard))]
    Path(out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    finish()


if __name__ == "__main__":
    commands = {
        "dockerfile": dockerfile, "compose": compose, "k8s": k8s, "systemd": systemd,
        "envfiles": envfiles, "metrics": metrics, "dashboard-rules": dashboard_rules,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    commands[sys.argv[1]](*sys.argv[2:])

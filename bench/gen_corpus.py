#!/usr/bin/env python3
"""Generate a corpus of Kubernetes manifests for the audit benchmark.

usage: gen_corpus.py OUT_DIR COUNT [SEED]

Each file holds one object: Pods, Deployments, DaemonSets, StatefulSets, Jobs and CronJobs with a
deterministic mix of clean and risky settings (privileged, host namespaces, hostPath including
engine sockets, capabilities, missing limits), so every rule family is exercised.
"""
import json
import os
import random
import sys


def container(rng, i):
    c = {
        "name": f"c{i}",
        "image": f"registry.example/app{rng.randrange(100)}:1.{rng.randrange(20)}",
        "ports": [{"containerPort": 8000 + rng.randrange(1000)}],
        "resources": {},
        "securityContext": {},
    }
    sc = c["securityContext"]
    r = rng.random()
    if r < 0.15:
        sc["privileged"] = True
    elif r < 0.3:
        sc["capabilities"] = {"add": rng.sample(["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "CHOWN", "NET_RAW"], 2)}
    elif r < 0.7:
        sc.update({
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    if rng.random() < 0.6:
        c["resources"] = {"limits": {"memory": f"{rng.choice([128, 256, 512])}Mi", "cpu": "500m"}}
    if rng.random() < 0.1:
        c["ports"][0]["hostPort"] = c["ports"][0]["containerPort"]
    return c


def pod_spec(rng):
    spec = {"containers": [container(rng, i) for i in range(rng.randrange(1, 4))]}
    if rng.random() < 0.3:
        spec["initContainers"] = [container(rng, 9)]
    r = rng.random()
    if r < 0.08:
        spec["hostPID"] = True
    elif r < 0.14:
        spec["hostNetwork"] = True
    vols = []
    mounts = []
    if rng.random() < 0.2:
        path = rng.choice(["/var/run/docker.sock", "/run/containerd/containerd.sock", "/etc", "/var/log", "/data", "/"])
        vols.append({"name": "host", "hostPath": {"path": path}})
        mounts.append({"name": "host", "mountPath": "/host"})
    vols.append({"name": "tmp", "emptyDir": {}})
    mounts.append({"name": "tmp", "mountPath": "/tmp"})
    spec["volumes"] = vols
    spec["containers"][0]["volumeMounts"] = mounts
    if rng.random() < 0.5:
        spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001,
                                   "seccompProfile": {"type": "RuntimeDefault"}}
    if rng.random() < 0.5:
        spec["automountServiceAccountToken"] = False
    return spec


def template(rng, name):
    return {"metadata": {"labels": {"app": name}}, "spec": pod_spec(rng)}


def obj(rng, n):
    name = f"w{n}"
    ns = f"team{n % 20}"
    kind = rng.choice(["Pod", "Deployment", "Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob"])
    meta = {"name": name, "namespace": ns, "labels": {"app": name}}
    sel = {"matchLabels": {"app": name}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec(rng)}
    if kind in ("Deployment", "DaemonSet", "StatefulSet"):
        spec = {"selector": sel, "template": template(rng, name)}
        if kind != "DaemonSet":
            spec["replicas"] = rng.randrange(1, 5)
        if kind == "StatefulSet":
            spec["serviceName"] = name
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}
    if kind == "Job":
        t = template(rng, name)
        t["spec"]["restartPolicy"] = "Never"
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": t}}
    t = template(rng, name)
    t["spec"]["restartPolicy"] = "OnFailure"
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": t}}}}


def to_yaml(v, indent=0):
    """A small YAML emitter (block style) so the generator needs nothing beyond Python."""
    pad = "  " * indent
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{k}:")
                out.append(to_yaml(x, indent + 1))
            else:
                out.append(f"{pad}{k}: {scalar(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                body = to_yaml(x, indent + 1).lstrip()
                out.append(f"{pad}- {body}")
            else:
                out.append(f"{pad}- {scalar(x)}")
    return "\n".join(out)


def scalar(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return json.dumps(x)


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for n in range(count):
        with open(os.path.join(out, f"m{n:05d}.yaml"), "w") as f:
            f.write(to_yaml(obj(rng, n)) + "\n")


if __name__ == "__main__":
    main()

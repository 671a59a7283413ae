#!/usr/bin/env python3
"""Write an OCI image layout with one gzip layer of N small files (default 1,000,000), for
bench/image-vs-syft.sh: DIR/{oci-layout,index.json,blobs/sha256/...}.

usage: gen_million_image.py DIR [N]
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
tmp = os.path.join(out, "layer.tmp")

class Tee(io.RawIOBase):
    """Hashes the uncompressed tar (the diff_id) on its way to gzip."""
    def __init__(self, sink):
        self.sink, self.h = sink, hashlib.sha256()
    def writable(self):
        return True
    def write(self, b):
        self.h.update(b)
        self.sink.write(b)
        return len(b)

with open(tmp, "wb") as f:
    gz = subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=f)
    tee = Tee(gz.stdin)
    with tarfile.open(fileobj=tee, mode="w|", format=tarfile.USTAR_FORMAT) as t:
        def add(name, data=b"", kind=tarfile.REGTYPE, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.size, ti.mtime = kind, mode, len(data), 1700000000
            t.addfile(ti, io.BytesIO(data) if data else None)
        add("etc", kind=tarfile.DIRTYPE, mode=0o755)
        add("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n")
        add("data", kind=tarfile.DIRTYPE, mode=0o755)
        per = 1000
        for d in range((n + per - 1) // per):
            add(f"data/{d:04d}", kind=tarfile.DIRTYPE, mode=0o755)
            for i in range(min(per, n - d * per)):
                add(f"data/{d:04d}/f{i:04d}.txt", b"x" * 32)
    gz.stdin.close()
    gz.wait()
diff_id = "sha256:" + tee.h.hexdigest()
h = hashlib.sha256()
with open(tmp, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
layer_digest, size = h.hexdigest(), os.path.getsize(tmp)
os.rename(tmp, os.path.join(blobs, layer_digest))

def put(obj):
    b = json.dumps(obj).encode()
    d = hashlib.sha256(b).hexdigest()
    open(os.path.join(blobs, d), "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}

config = put({"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
manifest = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **config),
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": "sha256:" + layer_digest, "size": size}]})
json.dump({"schemaVersion": 2, "manifests": [
    dict(mediaType="application/vnd.oci.image.manifest.v1+json", **manifest)]},
    open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
print(f"{out}: {n} files, layer {size} bytes gzip")

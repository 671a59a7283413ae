//! Go build info (`runtime/debug.BuildInfo`) from a Go executable's `.go.buildinfo` section.
//!
//! The section starts with the 14-byte magic `\xff Go buildinf:` at a 16-byte aligned offset,
//! then the pointer size and a flags byte. Since Go 1.18 (flag bit 2) the Go version and the
//! module information follow the 32-byte header inline, each as a uvarint length and bytes; the
//! module information is wrapped in 16-byte sentinels. Executables stream past once: this looks
//! at aligned offsets only, and keeps at most 1 MiB after the magic.

use std::io::{self, Read};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const MAX_INFO: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildInfo {
    /// e.g. `go1.19.8`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module (version `(devel)` when built from a source tree).
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// The `-ldflags` build setting (Go records it for builds without `-trimpath`).
    pub ldflags: Option<String>,
}

/// Where each runtime's build writes its version with `-ldflags -X` (its Makefile), by main
/// module path. A release built from a source tree has the main module at `(devel)` (before Go
/// 1.24), so this is where its version is.
const VERSION_VARS: &[(&str, &str)] = &[
    ("github.com/opencontainers/runc", "main.version"),
    (
        "github.com/containerd/containerd",
        "github.com/containerd/containerd/version.Version",
    ),
    (
        "github.com/containerd/containerd/v2",
        "github.com/containerd/containerd/v2/version.Version",
    ),
    (
        "github.com/cri-o/cri-o",
        "github.com/cri-o/cri-o/internal/version.Version",
    ),
    (
        "github.com/moby/buildkit",
        "github.com/moby/buildkit/version.Version",
    ),
    (
        "github.com/docker/docker",
        "github.com/docker/docker/dockerversion.Version",
    ),
    (
        "github.com/NVIDIA/nvidia-container-toolkit",
        "github.com/NVIDIA/nvidia-container-toolkit/internal/info.version",
    ),
];

impl BuildInfo {
    /// The main module's release version, `v`-prefixed: the module version when Go recorded
    /// one (a `go install` or a tagged Go 1.24+ build), else the `-X` version variable of a
    /// known runtime in `-ldflags`. `None` when neither says (a `-trimpath` source build).
    pub fn main_version(&self) -> Option<String> {
        let m = self.main.as_ref()?;
        if m.version.starts_with('v') {
            return Some(m.version.clone());
        }
        let var = VERSION_VARS.iter().find(|(p, _)| *p == m.path)?.1;
        let flags = self.ldflags.as_deref()?;
        let at = flags.find(&format!("{var}="))? + var.len() + 1;
        let v: String = flags[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\\' | '\''))
            .collect();
        let v = v.trim_start_matches('v');
        (v.as_bytes().first().is_some_and(u8::is_ascii_digit)).then(|| format!("v{v}"))
    }
}

/// Read an executable from its start; `Some` when it is an ELF Go binary with readable build
/// info. Binaries from Go before 1.18 (pointer-format build info) are not read.
pub fn scan(r: &mut dyn Read) -> io::Result<Option<BuildInfo>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut have = fill(r, &mut buf)?;
    if have < 4 || buf[..4] != *b"\x7fELF" {
        return Ok(None);
    }
    // `buf[..have]` holds the bytes from the absolute offset `base` (a multiple of 16).
    loop {
        let mut p = 0;
        while p + 32 <= have {
            if buf[p..p + 14] == *MAGIC {
                let mut info = buf[p..have].to_vec();
                let mut more = vec![0u8; 1 << 16];
                while info.len() < MAX_INFO {
                    let k = fill(r, &mut more)?;
                    if k == 0 {
                        break;
                    }
                    info.extend_from_slice(&more[..k]);
                }
                return Ok(decode(&info));
            }
            p += 16;
        }
        // Keep the unscanned tail (from the first aligned offset not checked).
        buf.copy_within(p..have, 0);
        let kept = have - p;
        let k = fill(r, &mut buf[kept..])?;
        if k == 0 {
            return Ok(None);
        }
        have = kept + k;
    }
}

/// Read until `buf` is full or the stream ends.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn uvarint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((usize::try_from(v).ok()?, i + 1));
        }
    }
    None
}

fn string_at(b: &[u8]) -> Option<(&[u8], usize)> {
    let (len, n) = uvarint(b)?;
    let s = b.get(n..n.checked_add(len)?)?;
    Some((s, n + len))
}

/// Decode the section from its magic on.
pub fn decode(b: &[u8]) -> Option<BuildInfo> {
    let flags = *b.get(15)?;
    if flags & 2 == 0 {
        return None;
    }
    let rest = b.get(32..)?;
    let (ver, n) = string_at(rest)?;
    let (mut modinfo, _) = string_at(&rest[n..])?;
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    let mut info = BuildInfo {
        go_version: String::from_utf8_lossy(ver).into_owned(),
        path: String::new(),
        main: None,
        deps: Vec::new(),
        ldflags: None,
    };
    for line in String::from_utf8_lossy(modinfo).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let module = || Module {
            path: f.get(1).unwrap_or(&"").to_string(),
            version: f.get(2).unwrap_or(&"").to_string(),
        };
        match f[0] {
            "path" => info.path = f.get(1).unwrap_or(&"").to_string(),
            "mod" => info.main = Some(module()),
            "dep" => info.deps.push(module()),
            "build" => {
                if let Some(v) = f.get(1).and_then(|b| b.strip_prefix("-ldflags=")) {
                    info.ldflags = Some(v.to_string());
                }
            }
            // A replacement applies to the module line before it.
            "=>" => {
                let m = module();
                if let Some(last) = info.deps.last_mut() {
                    *last = m;
                } else if let Some(main) = info.main.as_mut() {
                    *main = m;
                }
            }
            _ => {}
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(main: &str, version: &str, ldflags: Option<&str>) -> BuildInfo {
        BuildInfo {
            go_version: "go1.22.0".into(),
            path: main.into(),
            main: Some(Module {
                path: main.into(),
                version: version.into(),
            }),
            deps: Vec::new(),
            ldflags: ldflags.map(str::to_string),
        }
    }

    #[test]
    fn main_version_from_module_or_ldflags() {
        let runc = "github.com/opencontainers/runc";
        assert_eq!(
            info(runc, "v1.3.3", None).main_version().as_deref(),
            Some("v1.3.3")
        );
        assert_eq!(info(runc, "(devel)", None).main_version(), None);
        let flags = r#""-X main.gitCommit=abc -X main.version=1.1.11 -extldflags -static""#;
        assert_eq!(
            info(runc, "(devel)", Some(flags)).main_version().as_deref(),
            Some("v1.1.11")
        );
        // As Go quotes it (the docker CLI's own build setting, with containerd's variable).
        let ctrd = "github.com/containerd/containerd";
        let flags = r#"" -X \"github.com/containerd/containerd/version.Version=v1.7.2\" -X \"github.com/containerd/containerd/version.Revision=x\"""#;
        assert_eq!(
            info(ctrd, "(devel)", Some(flags)).main_version().as_deref(),
            Some("v1.7.2")
        );
        // Another module's variable, or a value that is not a version, says nothing.
        assert_eq!(
            info("example.com/x", "(devel)", Some("-X main.version=1.0")).main_version(),
            None
        );
        assert_eq!(
            info(runc, "(devel)", Some("-X main.version=unknown")).main_version(),
            None
        );
    }
}

//! Where an image comes from, and how its manifest, config and layer blobs are found without a
//! daemon or a registry: an OCI image layout (a directory or a tar of one), a `docker save` /
//! `podman save` archive, or a plain root filesystem.

use super::ImageError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// An image input, as written on the command line (`oci:DIR`, `oci-archive:FILE`,
/// `docker-archive:FILE`, `dir:ROOTFS`, `container:ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    OciDir(PathBuf),
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
    Dir(PathBuf),
    /// A running container by id; `state_roots` are searched before the default state
    /// directories (`super::container::default_roots`).
    Container {
        id: String,
        state_roots: Vec<PathBuf>,
    },
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            format!("{s:?}: name the input kind: oci:DIR, oci-archive:FILE, docker-archive:FILE, dir:ROOTFS or container:ID")
        })?;
        if rest.is_empty() {
            return Err(format!("{s:?}: a path follows `{kind}:`"));
        }
        let p = PathBuf::from(rest);
        match kind {
            "oci" => Ok(Source::OciDir(p)),
            "oci-archive" => Ok(Source::OciArchive(p)),
            "docker-archive" => Ok(Source::DockerArchive(p)),
            "dir" => Ok(Source::Dir(p)),
            "container" => Ok(Source::Container {
                id: rest.to_string(),
                state_roots: Vec::new(),
            }),
            _ => Err(format!(
                "{s:?}: unknown input kind {kind:?} (oci, oci-archive, docker-archive, dir, container)"
            )),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (k, p) = match self {
            Source::OciDir(p) => ("oci", p),
            Source::OciArchive(p) => ("oci-archive", p),
            Source::DockerArchive(p) => ("docker-archive", p),
            Source::Dir(p) => ("dir", p),
            Source::Container { id, .. } => return write!(f, "container:{id}"),
        };
        write!(f, "{k}:{}", p.display())
    }
}

/// The image configuration fields that matter for an escape (OCI image spec `config`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunConfig {
    #[serde(default, rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(default, rename = "WorkingDir")]
    pub working_dir: Option<String>,
    #[serde(default, rename = "User")]
    pub user: Option<String>,
    #[serde(default, rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Debug, Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// One layer to read: where its bytes are and what they must hash to.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Where the blob is: a file, or a byte range of the archive.
    pub at: BlobAt,
    /// sha256 of the blob as stored (OCI descriptors), when known.
    pub digest: Option<String>,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids`), when known.
    pub diff_id: Option<String>,
    /// A name for messages: the digest or the archive member.
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum BlobAt {
    File(PathBuf),
    Range {
        file: PathBuf,
        offset: u64,
        len: u64,
    },
}

impl BlobAt {
    pub fn open(&self) -> Result<Box<dyn Read>, ImageError> {
        match self {
            BlobAt::File(p) => Ok(Box::new(File::open(p).map_err(|e| ImageError::io(p, e))?)),
            BlobAt::Range { file, offset, len } => {
                let mut f = File::open(file).map_err(|e| ImageError::io(file, e))?;
                f.seek(SeekFrom::Start(*offset))
                    .map_err(|e| ImageError::io(file, e))?;
                Ok(Box::new(f.take(*len)))
            }
        }
    }
}

/// An image's config and its layers in order, located but not yet read.
#[derive(Debug)]
pub struct Located {
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
}

/// The most a manifest, index or config may take (they are JSON of a few KB).
const MAX_META: u64 = 16 << 20;

/// Members of a tar archive, by name: offset and size of their data.
struct Members {
    file: PathBuf,
    map: BTreeMap<String, (u64, u64)>,
}

impl Members {
    fn scan(file: &Path) -> Result<Members, ImageError> {
        let f = File::open(file).map_err(|e| ImageError::io(file, e))?;
        let mut ar = tar::Archive::new(f);
        let mut map = BTreeMap::new();
        let bad = |e: std::io::Error| ImageError::Archive {
            path: file.to_path_buf(),
            reason: e.to_string(),
        };
        let len = std::fs::metadata(file)
            .map_err(|e| ImageError::io(file, e))?
            .len();
        for entry in ar.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = name.trim_start_matches("./").to_string();
            let (off, size) = (entry.raw_file_position(), entry.size());
            if off.checked_add(size).is_none_or(|end| end > len) {
                return Err(ImageError::Archive {
                    path: file.to_path_buf(),
                    reason: format!("member {name} runs past the end of the file (truncated)"),
                });
            }
            map.insert(name, (off, size));
        }
        Ok(Members {
            file: file.to_path_buf(),
            map,
        })
    }

    fn at(&self, name: &str) -> Option<BlobAt> {
        self.map.get(name).map(|&(offset, len)| BlobAt::Range {
            file: self.file.clone(),
            offset,
            len,
        })
    }
}

/// A store of blobs: an OCI layout directory or an archive's members.
enum Store<'a> {
    Dir(&'a Path),
    Archive(&'a Members),
}

impl Store<'_> {
    fn name(&self) -> String {
        match self {
            Store::Dir(d) => d.display().to_string(),
            Store::Archive(m) => m.file.display().to_string(),
        }
    }

    fn at(&self, member: &str) -> Result<BlobAt, ImageError> {
        match self {
            Store::Dir(d) => {
                let p = d.join(member);
                if p.is_file() {
                    Ok(BlobAt::File(p))
                } else {
                    Err(ImageError::Missing {
                        image: self.name(),
                        what: member.to_string(),
                    })
                }
            }
            Store::Archive(m) => m.at(member).ok_or_else(|| ImageError::Missing {
                image: self.name(),
                what: member.to_string(),
            }),
        }
    }

    fn read(&self, member: &str, digest: Option<&str>) -> Result<Vec<u8>, ImageError> {
        let mut r = self.at(member)?.open()?.take(MAX_META + 1);
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .map_err(|e| ImageError::io(Path::new(member), e))?;
        if buf.len() as u64 > MAX_META {
            return Err(ImageError::Invalid {
                image: self.name(),
                what: member.to_string(),
                reason: "larger than 16 MiB; not image metadata".into(),
            });
        }
        if let Some(d) = digest {
            let got = super::sha256_hex(&buf);
            if d.strip_prefix("sha256:") != Some(got.as_str()) {
                return Err(ImageError::Digest {
                    image: self.name(),
                    what: member.to_string(),
                    expected: d.to_string(),
                    got: format!("sha256:{got}"),
                });
            }
        }
        Ok(buf)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        member: &str,
        digest: Option<&str>,
    ) -> Result<T, ImageError> {
        let buf = self.read(member, digest)?;
        serde_json::from_slice(&buf).map_err(|e| ImageError::Invalid {
            image: self.name(),
            what: member.to_string(),
            reason: e.to_string(),
        })
    }
}

fn blob_path(image: &str, digest: &str) -> Result<String, ImageError> {
    let (alg, hex) = digest.split_once(':').unwrap_or(("", ""));
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ImageError::Invalid {
            image: image.to_string(),
            what: digest.to_string(),
            reason: "not a sha256 digest".into(),
        });
    }
    Ok(format!("blobs/sha256/{hex}"))
}

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn oci(store: &Store<'_>) -> Result<Located, ImageError> {
    let image = store.name();
    let index: Index = store.json("index.json", None)?;
    let mut desc = pick(&image, index.manifests)?;
    // A nested index (multi-platform image): one level down.
    if INDEX_TYPES.contains(&desc.media_type.as_str()) {
        let inner: Index = store.json(&blob_path(&image, &desc.digest)?, Some(&desc.digest))?;
        desc = pick(&image, inner.manifests)?;
    }
    let manifest: Manifest = store.json(&blob_path(&image, &desc.digest)?, Some(&desc.digest))?;
    let config: ImageConfig = store.json(
        &blob_path(&image, &manifest.config.digest)?,
        Some(&manifest.config.digest),
    )?;
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    if !diff_ids.is_empty() && diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Invalid {
            image,
            what: "config rootfs.diff_ids".into(),
            reason: format!(
                "{} diff_ids for {} layers",
                diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (i, l) in manifest.layers.iter().enumerate() {
        let member = blob_path(&image, &l.digest)?;
        let at = store.at(&member)?;
        if let (Some(want), BlobAt::Range { len, .. }) = (l.size, &at) {
            if want != *len {
                return Err(ImageError::Invalid {
                    image,
                    what: member,
                    reason: format!("{len} bytes where the manifest says {want}"),
                });
            }
        }
        layers.push(LayerRef {
            at,
            digest: Some(l.digest.clone()),
            diff_id: diff_ids.get(i).cloned(),
            name: l.digest.clone(),
        });
    }
    Ok(Located { config, layers })
}

/// The manifest for linux/amd64 (or the only one).
fn pick(image: &str, manifests: Vec<Descriptor>) -> Result<Descriptor, ImageError> {
    if manifests.len() <= 1 {
        return manifests
            .into_iter()
            .next()
            .ok_or_else(|| ImageError::Invalid {
                image: image.to_string(),
                what: "index.json".into(),
                reason: "no manifests".into(),
            });
    }
    let n = manifests.len();
    let mut first = None;
    for m in manifests {
        let ours = m
            .platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == "amd64");
        if ours {
            return Ok(m);
        }
        first.get_or_insert(m);
    }
    first.ok_or_else(|| ImageError::Invalid {
        image: image.to_string(),
        what: "index.json".into(),
        reason: format!("{n} manifests, none for linux/amd64"),
    })
}

fn docker(m: &Members) -> Result<Located, ImageError> {
    let store = Store::Archive(m);
    let image = store.name();
    let entries: Vec<DockerManifestEntry> = store.json("manifest.json", None)?;
    let [entry] =
        <[DockerManifestEntry; 1]>::try_from(entries).map_err(|v| ImageError::Invalid {
            image: image.clone(),
            what: "manifest.json".into(),
            reason: format!(
                "{} images in one archive; save one image per archive",
                v.len()
            ),
        })?;
    // The config member is named by its digest (`<hex>.json` or `blobs/sha256/<hex>`).
    let hex = entry
        .config
        .trim_start_matches("blobs/sha256/")
        .trim_end_matches(".json");
    let digest = (hex.len() == 64).then(|| format!("sha256:{hex}"));
    let config: ImageConfig = store.json(&entry.config, digest.as_deref())?;
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(ImageError::Invalid {
            image,
            what: "config rootfs.diff_ids".into(),
            reason: format!(
                "{} diff_ids for {} layers",
                diff_ids.len(),
                entry.layers.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (l, d) in entry.layers.iter().zip(diff_ids) {
        layers.push(LayerRef {
            at: store.at(l)?,
            digest: None,
            diff_id: Some(d),
            name: l.clone(),
        });
    }
    Ok(Located { config, layers })
}

/// Find the config and layers of an image source (not for `dir:` or `container:`).
pub fn locate(source: &Source) -> Result<Located, ImageError> {
    match source {
        Source::OciDir(d) => {
            if !d.join("oci-layout").is_file() {
                return Err(ImageError::Invalid {
                    image: d.display().to_string(),
                    what: "oci-layout".into(),
                    reason: "missing: not an OCI image layout".into(),
                });
            }
            oci(&Store::Dir(d))
        }
        Source::OciArchive(f) => {
            let m = Members::scan(f)?;
            oci(&Store::Archive(&m))
        }
        Source::DockerArchive(f) => docker(&Members::scan(f)?),
        Source::Dir(_) | Source::Container { .. } => Ok(Located {
            config: ImageConfig::default(),
            layers: Vec::new(),
        }),
    }
}

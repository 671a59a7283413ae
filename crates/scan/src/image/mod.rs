//! `stockade image`: image inputs (OCI layout, oci-archive, docker-archive, a root filesystem),
//! layers streamed once, and the inventory of files and packages with the layer that added each.
//!
//! Each layer is read once, as a stream: its bytes are hashed as they are decompressed (gzip,
//! zstd or plain, told apart by their magic), and each tar entry updates an index of paths to
//! the facts the checks need (type, mode, owner, device, file capabilities, link target, the
//! layer that added it). File contents are kept only for the few paths the inventories read
//! (package databases, credential candidates) and Go build info is taken from executables as
//! they stream past, so memory follows what is indexed, not the image's size.

pub mod checks;
pub mod container;
pub mod reach;
pub mod source;

pub use source::{ImageConfig, Source};

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a readable tar archive: {reason}", path.display())]
    Archive { path: PathBuf, reason: String },
    #[error("{image}: {what} is missing from the image")]
    Missing { image: String, what: String },
    #[error("{image}: {what}: {reason}")]
    Invalid {
        image: String,
        what: String,
        reason: String,
    },
    #[error("{image}: {what}: digest mismatch: expected {expected}, content hashes to {got} (the image is corrupt or was altered; save it again)")]
    Digest {
        image: String,
        what: String,
        expected: String,
        got: String,
    },
    #[error("{image}: layer {layer}: {reason}")]
    Layer {
        image: String,
        layer: String,
        reason: String,
    },
}

impl ImageError {
    pub(crate) fn io(path: &Path, source: io::Error) -> ImageError {
        ImageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

/// One path of the final filesystem.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Index of the layer that wrote it last (0-based).
    pub layer: u16,
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub size: u64,
    /// File capabilities (`security.capability` xattr) present.
    pub caps: bool,
    /// Device major and minor numbers (character and block devices).
    pub dev: (u32, u32),
    /// Symlink or hard-link target.
    pub link: Option<Box<str>>,
}

/// Limits that keep a hostile image from exhausting memory or time.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Uncompressed bytes above which a layer's compression ratio is checked.
    pub ratio_floor: u64,
    /// Largest uncompressed/compressed ratio accepted above `ratio_floor` (a gzip bomb).
    pub max_ratio: u64,
    /// Largest rpm database kept for an inventory.
    pub max_captured: u64,
    /// Largest text package database (dpkg, apk) or credential file kept.
    pub max_captured_text: u64,
    /// Most (name, version) pairs remembered from the earlier versions of one database.
    pub max_first_seen: usize,
    /// Largest total of the file contents kept at once (the last version of every package
    /// database and credential candidate).
    pub max_captured_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ratio_floor: 256 << 20,
            max_ratio: 1000,
            max_captured: 512 << 20,
            max_captured_text: 32 << 20,
            max_first_seen: 200_000,
            max_captured_total: 1 << 30,
        }
    }
}

/// A layer as read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerInfo {
    pub index: u16,
    /// sha256 of the blob (OCI) or the member name (docker-archive).
    pub digest: String,
    /// sha256 of the uncompressed tar, verified.
    pub diff_id: String,
    pub compression: &'static str,
    pub entries: u64,
}

/// A path-traversal attempt seen in a layer: the entry is not applied.
#[derive(Debug, Clone)]
pub struct Traversal {
    pub layer: u16,
    pub path: String,
    pub reason: String,
}

/// A Go binary's build info, with where it was found.
#[derive(Debug, Clone)]
pub struct GoBinary {
    pub path: String,
    pub layer: u16,
    pub info: crate::pkgdb::gobuildinfo::BuildInfo,
}

/// One captured file: its last version, and what its earlier versions said. Package databases
/// are rewritten by each layer that installs something; the first version listing a package
/// tells its layer. An earlier version is parsed when a later layer replaces it and then dropped,
/// so memory holds one version of each file, not one per layer.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The layer that wrote the last version.
    pub layer: u16,
    /// The last version's content.
    pub data: Vec<u8>,
    /// (name, version) of every package an earlier version of this database listed, with the
    /// first layer that listed it.
    pub first_seen: HashMap<(String, String), u16>,
}

impl Captured {
    /// The layer that added `name` at `version`: the first earlier version listing it, else the
    /// last version's layer.
    pub fn layer_of(&self, name: &str, version: &str) -> u16 {
        // Keyed by owned strings; a lookup builds the key once per package.
        self.first_seen
            .get(&(name.to_string(), version.to_string()))
            .copied()
            .unwrap_or(self.layer)
    }

    /// Replace the content with a later layer's, keeping what the replaced version listed.
    fn replace(&mut self, path: &str, layer: u16, data: Vec<u8>, max: usize) -> io::Result<()> {
        let old = std::mem::replace(&mut self.data, data);
        let old_layer = std::mem::replace(&mut self.layer, layer);
        if let Some(Ok(pkgs)) = crate::pkgdb::parse_db(path, &old) {
            for p in pkgs {
                self.first_seen
                    .entry((p.name, p.version))
                    .or_insert(old_layer);
            }
        }
        if self.first_seen.len() > max {
            return Err(io::Error::other(format!(
                "{path}: its versions in the layers up to {old_layer} list more than {max} \
                 distinct packages"
            )));
        }
        Ok(())
    }
}

/// An image read whole: config, layers, the final file index, captured files, Go binaries.
#[derive(Debug)]
pub struct Image {
    pub source: String,
    pub config: ImageConfig,
    pub layers: Vec<LayerInfo>,
    pub files: BTreeMap<Box<str>, FileEntry>,
    pub captured: BTreeMap<String, Captured>,
    /// Bytes held in `captured` (the last version of each file).
    pub captured_bytes: u64,
    pub go: BTreeMap<String, GoBinary>,
    pub traversal: Vec<Traversal>,
}

/// Where the distribution is named (`ID`, `VERSION_ID`), in the order systemd reads them.
pub const OS_RELEASE: &[&str] = &["etc/os-release", "usr/lib/os-release"];

/// Whether a path's content is kept for an inventory or a check.
pub fn capture_wanted(path: &str) -> bool {
    OS_RELEASE.contains(&path)
        || crate::pkgdb::DB_PATHS.contains(&path)
        || crate::pkgdb::DB_DIRS
            .iter()
            .any(|d| path.strip_prefix(d).is_some_and(|r| !r.contains('/')))
        || policy::image::credential_candidate(path)
}

/// Read an image whole.
pub fn read(source: &Source, limits: &Limits) -> Result<Image, ImageError> {
    let mut img = Image {
        source: source.to_string(),
        config: ImageConfig::default(),
        layers: Vec::new(),
        files: BTreeMap::new(),
        captured: BTreeMap::new(),
        captured_bytes: 0,
        go: BTreeMap::new(),
        traversal: Vec::new(),
    };
    if let Source::Dir(root) = source {
        crate::image::rootfs::walk(root, &mut img, limits)?;
        return Ok(img);
    }
    if let Source::Container { id, state_roots } = source {
        let mut roots = state_roots.clone();
        roots.extend(container::default_roots());
        let found = container::find(id, &roots)?;
        let fd = container::open_root(id, &found)?;
        img.config = found.config.clone();
        let shown = format!("/proc/{}/root", found.pid);
        let digest = format!(
            "container:{id} ({} pid {}, {})",
            found.runtime, found.pid, found.via
        );
        crate::image::rootfs::walk_fd(fd, &shown, digest, &mut img, limits)?;
        return Ok(img);
    }
    let located = source::locate(source)?;
    img.config = located.config;
    if located.layers.len() > usize::from(u16::MAX) {
        return Err(ImageError::Invalid {
            image: img.source.clone(),
            what: "manifest".into(),
            reason: format!("{} layers", located.layers.len()),
        });
    }
    for (i, l) in located.layers.iter().enumerate() {
        let info = apply_layer(&mut img, i as u16, l, limits)?;
        img.layers.push(info);
    }
    Ok(img)
}

pub mod rootfs;

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hash: std::rc::Rc<std::cell::RefCell<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..k]);
        Ok(k)
    }
}

fn hasher() -> std::rc::Rc<std::cell::RefCell<Sha256>> {
    std::rc::Rc::new(std::cell::RefCell::new(Sha256::new()))
}

fn finish(h: &std::rc::Rc<std::cell::RefCell<Sha256>>) -> String {
    format!("sha256:{}", hex(&h.replace(Sha256::new()).finalize()))
}

/// The decompressed stream, with a guard against decompression bombs.
struct Bounded<R> {
    inner: R,
    compressed: std::rc::Rc<std::cell::Cell<u64>>,
    n: u64,
    floor: u64,
    ratio: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.n > self.floor && self.n / self.compressed.get().max(1) > self.ratio {
            return Err(io::Error::other(format!(
                "decompresses to more than {}x its size ({} bytes from {}): a decompression bomb",
                self.ratio,
                self.n,
                self.compressed.get()
            )));
        }
        Ok(k)
    }
}

/// Counts the compressed bytes read, shared with [`Bounded`].
struct Counting<R> {
    inner: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

fn apply_layer(
    img: &mut Image,
    index: u16,
    l: &source::LayerRef,
    limits: &Limits,
) -> Result<LayerInfo, ImageError> {
    let image_name = img.source.clone();
    let layer_err = |reason: String| ImageError::Layer {
        image: image_name.clone(),
        layer: l.name.clone(),
        reason,
    };
    let raw_hash = hasher();
    let mut raw = Hashing {
        inner: io::BufReader::with_capacity(1 << 16, l.at.open()?),
        hash: raw_hash.clone(),
    };
    // Tell the compression from the first bytes.
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let k = raw
            .read(&mut magic[got..])
            .map_err(|e| layer_err(e.to_string()))?;
        if k == 0 {
            break;
        }
        got += k;
    }
    let head = io::Cursor::new(magic[..got].to_vec());
    let counter = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let compression;
    let decoded: Box<dyn Read + '_> = {
        let chained = Counting {
            inner: head.chain(raw),
            n: counter.clone(),
        };
        if got >= 2 && magic[..2] == [0x1f, 0x8b] {
            compression = "gzip";
            Box::new(flate2::read::MultiGzDecoder::new(chained))
        } else if got == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            compression = "zstd";
            Box::new(
                zstd::stream::read::Decoder::new(chained)
                    .map_err(|e| layer_err(format!("zstd: {e}")))?,
            )
        } else {
            compression = "none";
            Box::new(chained)
        }
    };
    let tar_hash = hasher();
    let mut tarred = Hashing {
        inner: Bounded {
            inner: decoded,
            compressed: counter,
            n: 0,
            floor: limits.ratio_floor,
            ratio: limits.max_ratio,
        },
        hash: tar_hash.clone(),
    };
    let entries = {
        let mut ar = tar::Archive::new(&mut tarred);
        let mut entries = 0u64;
        let iter = ar.entries().map_err(|e| layer_err(e.to_string()))?;
        for entry in iter {
            let entry = entry.map_err(|e| layer_err(format!("entry {}: {e}", entries + 1)))?;
            entries += 1;
            apply_entry(img, index, entry, limits)
                .map_err(|e| layer_err(format!("entry {entries}: {e}")))?;
        }
        entries
    };
    // The tar ends before its stream does (padding, the compressor's trailer): read it all so
    // both digests cover every byte (the decoders read their input to its end).
    io::copy(&mut tarred, &mut io::sink()).map_err(|e| layer_err(e.to_string()))?;
    drop(tarred);
    let diff_id = finish(&tar_hash);
    let blob = finish(&raw_hash);
    if let Some(d) = &l.digest {
        if *d != blob {
            return Err(ImageError::Digest {
                image: img.source.clone(),
                what: format!("layer {}", l.name),
                expected: d.clone(),
                got: blob,
            });
        }
    }
    if let Some(d) = &l.diff_id {
        if *d != diff_id {
            return Err(ImageError::Digest {
                image: img.source.clone(),
                what: format!("layer {} (uncompressed, config diff_id)", l.name),
                expected: d.clone(),
                got: diff_id,
            });
        }
    }
    Ok(LayerInfo {
        index,
        digest: l.digest.clone().unwrap_or_else(|| l.name.clone()),
        diff_id,
        compression,
        entries,
    })
}

/// A tar entry's path, normalised (no leading `./` or `/`, no `.` parts, no trailing `/`), or
/// why it is refused.
pub fn normalise(raw: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(raw).map_err(|_| "path is not UTF-8".to_string())?;
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path climbs out with `..`".into()),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Whether a link target, from the directory holding the link, climbs above the root.
fn climbs_out(dir: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth = dir.split('/').filter(|c| !c.is_empty()).count() as i64;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Remove `path` and everything under it.
fn remove_tree(files: &mut BTreeMap<Box<str>, FileEntry>, path: &str) {
    files.remove(path);
    let prefix = format!("{path}/");
    let under: Vec<Box<str>> = files
        .range::<str, _>((
            std::ops::Bound::Included(prefix.as_str()),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in under {
        files.remove(&k);
    }
}

fn apply_entry<R: Read>(
    img: &mut Image,
    layer: u16,
    mut entry: tar::Entry<'_, R>,
    limits: &Limits,
) -> io::Result<()> {
    let raw = entry.path_bytes().into_owned();
    let path = match normalise(&raw) {
        Ok(p) => p,
        Err(reason) => {
            img.traversal.push(Traversal {
                layer,
                path: String::from_utf8_lossy(&raw).into_owned(),
                reason,
            });
            return Ok(());
        }
    };
    if path.is_empty() {
        return Ok(());
    }
    // An entry under a symlink: a symlink an earlier layer made is followed inside the root (as
    // engines apply layers); one made in this same layer and then written through is the
    // tar-slip pattern no layer differ produces, reported and not applied.
    let mut path = path;
    for _ in 0..40 {
        let mut dir = parent(&path);
        let mut through = None;
        while !dir.is_empty() {
            if let Some(e) = img.files.get(dir).filter(|e| e.kind == Kind::Symlink) {
                through = Some((dir.to_string(), e.layer));
            }
            dir = parent(dir);
        }
        let Some((link, made_in)) = through else {
            break;
        };
        let resolved = (made_in != layer)
            .then(|| img.resolve(&link).map(|(k, _)| k.to_string()))
            .flatten();
        let Some(resolved) = resolved else {
            img.traversal.push(Traversal {
                layer,
                path: path.clone(),
                reason: format!("written through the symlink {link}"),
            });
            return Ok(());
        };
        path = format!("{resolved}{}", &path[link.len()..]);
    }
    let name = path.rsplit('/').next().unwrap_or(&path);
    if let Some(hidden) = name.strip_prefix(".wh.") {
        let d = parent(&path);
        if hidden == ".wh..opq" {
            // Opaque directory: what earlier layers put in it is gone.
            let prefix = format!("{d}/");
            let under: Vec<Box<str>> = img
                .files
                .iter()
                .filter(|(k, e)| (d.is_empty() || k.starts_with(&prefix)) && e.layer < layer)
                .map(|(k, _)| k.clone())
                .collect();
            for k in under {
                img.files.remove(&k);
            }
            let inside = |k: &str| d.is_empty() || k.starts_with(&prefix);
            let stale: Vec<String> = img
                .captured
                .iter()
                .filter(|(k, c)| inside(k) && c.layer < layer)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                img.forget_captured(&k);
            }
            img.go.retain(|k, g| !(inside(k) && g.layer < layer));
        } else {
            let gone = if d.is_empty() {
                hidden.to_string()
            } else {
                format!("{d}/{hidden}")
            };
            remove_tree(&mut img.files, &gone);
            let under = format!("{gone}/");
            let mut freed = 0;
            img.captured.retain(|k, c| {
                let keep = k != &gone && !k.starts_with(&under);
                if !keep {
                    freed += c.data.len() as u64;
                }
                keep
            });
            img.captured_bytes -= freed;
            img.go.remove(&gone);
        }
        return Ok(());
    }
    let h = entry.header();
    let kind = match h.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Link => Kind::Hardlink,
        tar::EntryType::Char => Kind::Char,
        tar::EntryType::Block => Kind::Block,
        tar::EntryType::Fifo => Kind::Fifo,
        // PAX and GNU long-name headers are consumed by the tar reader; others carry no file.
        _ => return Ok(()),
    };
    let mode = h.mode().unwrap_or(0) & 0o7777;
    let dev = (
        h.device_major().ok().flatten().unwrap_or(0),
        h.device_minor().ok().flatten().unwrap_or(0),
    );
    let uid = u32::try_from(h.uid().unwrap_or(0)).unwrap_or(u32::MAX);
    let size = entry.size();
    let link = entry
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned().into_boxed_str());
    if let Some(target) = &link {
        let escapes = match kind {
            Kind::Hardlink => normalise(target.as_bytes()).is_err(),
            Kind::Symlink => climbs_out(parent(&path), target),
            _ => false,
        };
        if escapes {
            img.traversal.push(Traversal {
                layer,
                path: path.clone(),
                reason: format!("link target {target:?} leaves the root filesystem"),
            });
            return Ok(());
        }
    }
    let mut caps = false;
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            if ext.key_bytes() == b"SCHILY.xattr.security.capability" {
                caps = true;
            }
        }
    }
    // A file replacing a directory replaces what was under it.
    if kind != Kind::Dir {
        if img
            .files
            .get(path.as_str())
            .is_some_and(|e| e.kind == Kind::Dir)
        {
            remove_tree(&mut img.files, &path);
        }
        // A regular file keeps the history of a captured file it rewrites (read_content folds
        // it); anything else ends it.
        if kind != Kind::File {
            img.forget_captured(&path);
        }
        img.go.remove(&path);
    }
    if kind == Kind::File {
        read_content(img, layer, &path, mode, size, &mut entry, limits)?;
    }
    let key: Box<str> = path.into_boxed_str();
    img.files.insert(
        key,
        FileEntry {
            layer,
            kind,
            mode,
            uid,
            size,
            caps,
            dev,
            link,
        },
    );
    Ok(())
}

/// Keep the content of a wanted file, or take Go build info from an executable as it streams.
pub(crate) fn read_content(
    img: &mut Image,
    layer: u16,
    path: &str,
    mode: u32,
    size: u64,
    r: &mut dyn Read,
    limits: &Limits,
) -> io::Result<()> {
    if capture_wanted(path) {
        // rpm's databases are binary and large (a Berkeley DB of a big install: 100+ MiB); a
        // text database or credential file that size is hostile (a dpkg status of 32 MiB is
        // about 35,000 packages).
        let rpm = path.starts_with("var/lib/rpm/") || path.starts_with("usr/lib/sysimage/rpm/");
        let (max, what) = if rpm {
            (limits.max_captured, "an rpm database")
        } else {
            (
                limits.max_captured_text,
                "a text package database or credential file",
            )
        };
        if size > max {
            return Err(io::Error::other(format!(
                "{path}: {size} bytes, more than the {max} kept for {what}"
            )));
        }
        let held = img.captured.get(path).map_or(0, |c| c.data.len() as u64);
        let total = img.captured_bytes - held + size;
        if total > limits.max_captured_total {
            return Err(io::Error::other(format!(
                "{path}: package databases and credential files would hold {total} bytes, more \
                 than the {} kept for a whole image",
                limits.max_captured_total
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.take(max).read_to_end(&mut buf)?;
        img.captured_bytes = img.captured_bytes - held + buf.len() as u64;
        match img.captured.get_mut(path) {
            Some(c) => c.replace(path, layer, buf, limits.max_first_seen)?,
            None => {
                img.captured.insert(
                    path.to_string(),
                    Captured {
                        layer,
                        data: buf,
                        first_seen: HashMap::new(),
                    },
                );
            }
        }
    } else {
        // Not (or no longer) a captured file: a regular file replacing one ends its history.
        img.forget_captured(path);
        if mode & 0o111 != 0 && size > 1024 {
            read_go(img, layer, path, r)?;
        }
    }
    Ok(())
}

/// Take Go build info from an executable as it streams past.
fn read_go(img: &mut Image, layer: u16, path: &str, r: &mut dyn Read) -> io::Result<()> {
    if let Some(info) = crate::pkgdb::gobuildinfo::scan(r)? {
        img.go.insert(
            path.to_string(),
            GoBinary {
                path: path.to_string(),
                layer,
                info,
            },
        );
    }
    Ok(())
}

impl Image {
    /// The final content of a captured file.
    pub fn content(&self, path: &str) -> Option<&[u8]> {
        self.captured.get(path).map(|c| c.data.as_slice())
    }

    /// Drop a captured file (removed, or replaced by something that is not a regular file).
    fn forget_captured(&mut self, path: &str) {
        if let Some(c) = self.captured.remove(path) {
            self.captured_bytes -= c.data.len() as u64;
        }
    }

    /// Resolve a path through symlinks inside the image (at most 40 links).
    pub fn resolve(&self, path: &str) -> Option<(&str, &FileEntry)> {
        let mut cur = normalise(path.as_bytes()).ok()?;
        for _ in 0..40 {
            let (k, e) = self.files.get_key_value(cur.as_str())?;
            match (&e.kind, &e.link) {
                (Kind::Symlink, Some(t)) => {
                    let joined = if t.starts_with('/') {
                        t.to_string()
                    } else {
                        format!("{}/{t}", parent(k))
                    };
                    // `..` is resolved lexically, clamped at the root, as the kernel does inside
                    // a chroot.
                    let mut parts: Vec<&str> = Vec::new();
                    for c in joined.split('/') {
                        match c {
                            "" | "." => {}
                            ".." => {
                                parts.pop();
                            }
                            c => parts.push(c),
                        }
                    }
                    cur = parts.join("/");
                }
                _ => return Some((k, e)),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_refuses_dotdot() {
        assert_eq!(normalise(b"./etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(normalise(b"/etc/").unwrap(), "etc");
        assert!(normalise(b"a/../../etc").is_err());
    }

    #[test]
    fn link_climbing() {
        assert!(climbs_out("usr/bin", "../../../etc/shadow"));
        assert!(!climbs_out("usr/bin", "../../etc/shadow"));
        assert!(!climbs_out("usr/bin", "/etc/shadow"));
    }
}

/// The result of `stockade image` (JSON schema `stockade.image/v1`).
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<crate::osv::Distro>,
    pub layers: Vec<LayerInfo>,
    pub packages: Vec<crate::pkgdb::Package>,
    pub findings: Vec<checks::Finding>,
    /// The vulnerability data used: each import and the data's age; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
}

#[derive(Debug, serde::Serialize)]
pub struct DatabaseInfo {
    pub imports: Vec<crate::osv::Provenance>,
    pub age_days: u64,
    pub records: usize,
}

impl Report {
    /// Findings at or above `sev`.
    pub fn failing(&self, sev: policy::Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| {
                f.suppressed.is_none()
                    && f.reachability.as_ref().is_none_or(|r| r.reachable)
                    && f.severity >= sev
            })
            .count()
    }

    /// Grade every finding under the workloads of `manifest` (`--with`).
    pub fn grade(&mut self, views: &[policy::WorkloadView], manifest: &str) {
        for f in &mut self.findings {
            f.reachability = reach::grade(f, views, manifest);
        }
    }
}

/// What a scan uses besides the image.
#[derive(Debug, Default)]
pub struct ScanOptions {
    pub limits: Limits,
    /// The imported vulnerability data; `None` skips vulnerability matching.
    pub store: Option<crate::osv::Store>,
    /// Leave out vulnerabilities without a fix (no fix yet, will not fix).
    pub ignore_unfixed: bool,
}

/// Read an image and run every check on it: inventory, escape checks, unreadable databases as
/// findings (SKD-IMG-071), and vulnerability matches when a store is given.
pub fn scan(source: &Source, limits: &Limits) -> Result<Report, ImageError> {
    scan_with(
        source,
        &ScanOptions {
            limits: limits.clone(),
            ..ScanOptions::default()
        },
    )
}

/// [`scan`] with vulnerability data and options.
pub fn scan_with(source: &Source, opts: &ScanOptions) -> Result<Report, ImageError> {
    let img = read(source, &opts.limits)?;
    let (packages, db_errors) = checks::packages(&img);
    let mut findings = checks::escape_findings(&img);
    for e in db_errors {
        let mut f = checks::Finding::new(policy::id::SKD_IMG_071, e.to_string());
        f.path = Some(e.path.clone());
        findings.push(f);
    }
    let distro = OS_RELEASE
        .iter()
        .find_map(|p| img.content(p))
        .map(crate::osv::Distro::parse);
    let mut database = None;
    if let Some(store) = &opts.store {
        let d = distro.clone().unwrap_or_default();
        let matches =
            crate::osv::match_packages(store, &packages, &d, &policy::image::runtime_module);
        for m in matches {
            let f = checks::vulnerability(&m);
            if opts.ignore_unfixed && f.status.as_deref() != Some("fixed") {
                continue;
            }
            findings.push(f);
        }
        database = Some(DatabaseInfo {
            imports: store.imports.clone(),
            age_days: store.age() / 86_400,
            records: store.records.len(),
        });
    }
    Ok(Report {
        schema: "stockade.image/v1",
        image: img.source.clone(),
        distro,
        layers: img.layers,
        packages,
        findings,
        database,
    })
}

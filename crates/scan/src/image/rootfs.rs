//! `dir:ROOTFS`: a root filesystem on disk, indexed as one layer. The walk never follows a
//! symlink (entries are read with `symlink_metadata`, and directories are entered only when
//! they are directories themselves), so a link inside the root cannot lead it outside.

use super::{FileEntry, Image, ImageError, Kind, Limits};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

pub(crate) fn walk(root: &Path, img: &mut Image, limits: &Limits) -> Result<(), ImageError> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| ImageError::io(root, e))?;
    if !meta.is_dir() {
        return Err(ImageError::Invalid {
            image: img.source.clone(),
            what: root.display().to_string(),
            reason: "not a directory".into(),
        });
    }
    img.layers.push(super::LayerInfo {
        index: 0,
        digest: format!("dir:{}", root.display()),
        diff_id: String::new(),
        compression: "none",
        entries: 0,
    });
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut n = 0u64;
    while let Some((dir, rel)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| ImageError::io(&dir, e))?;
        for ent in rd {
            let ent = ent.map_err(|e| ImageError::io(&dir, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            let full = ent.path();
            let path = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let m = std::fs::symlink_metadata(&full).map_err(|e| ImageError::io(&full, e))?;
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_symlink() {
                Kind::Symlink
            } else if ft.is_char_device() {
                Kind::Char
            } else if ft.is_block_device() {
                Kind::Block
            } else if ft.is_fifo() {
                Kind::Fifo
            } else if ft.is_file() {
                Kind::File
            } else {
                continue;
            };
            n += 1;
            let link = if kind == Kind::Symlink {
                std::fs::read_link(&full)
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned().into_boxed_str())
            } else {
                None
            };
            let mode = m.mode() & 0o7777;
            if kind == Kind::File {
                // O_NOFOLLOW: the entry was a regular file a moment ago; never open a link.
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&full);
                if let Ok(mut f) = f {
                    super::read_content(img, 0, &path, mode, m.len(), &mut f, limits)
                        .map_err(|e| ImageError::io(&full, e))?;
                }
            }
            img.files.insert(
                path.clone().into_boxed_str(),
                FileEntry {
                    layer: 0,
                    kind,
                    mode,
                    uid: m.uid(),
                    size: m.len(),
                    caps: has_caps(&full),
                    dev: (libc::major(m.rdev()), libc::minor(m.rdev())),
                    link,
                },
            );
            if kind == Kind::Dir {
                stack.push((full, path));
            }
        }
    }
    if let Some(l) = img.layers.first_mut() {
        l.entries = n;
    }
    Ok(())
}

/// Whether a file carries a `security.capability` xattr (read without following links).
fn has_caps(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let name = c"security.capability";
    // SAFETY: both pointers are valid NUL-terminated strings for the call's duration; a null
    // buffer with size 0 asks only for the value's length.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    n > 0
}

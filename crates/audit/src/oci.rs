//! (being written)

use crate::source::FileReport;

/// Read a file (being written).
pub fn read(path: &str, _text: &str) -> FileReport {
    FileReport::new(path, None)
}

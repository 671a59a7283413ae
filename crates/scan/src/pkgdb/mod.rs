//! Package databases: what a root filesystem says is installed (dpkg, apk, rpm, Go build info).

pub mod dpkg;

//! Version comparison, exact per ecosystem (dpkg, apk, rpm, Go modules).

pub mod apk;
pub mod deb;
pub mod gosemver;
pub mod rpm;

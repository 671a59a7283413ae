//! Version comparison, exact per ecosystem (dpkg, apk, rpm, Go modules).

pub mod deb;

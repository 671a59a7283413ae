//! What is *installed*, as opposed to what is declared (`audit`) or what runs (`watch`): image
//! layers, package databases, host facts, per-ecosystem version comparison and the offline
//! vulnerability store. This crate gathers facts and matches versions; a finding's severity and
//! text belong to the rule catalogue (`policy`), as for every other moment.
//!
//! - [`image`]: `stockade image`: image inputs, layers, the file and package inventory.
//! - [`host`]: `stockade host`: the node's kernel, runtimes, configuration, and the curated
//!   escape database they are judged against.
//! - [`pkgdb`]: package databases (dpkg, apk, rpm, Go build info).
//! - [`version`]: version comparison, exact per ecosystem.
//! - [`osv`]: the offline vulnerability store (`stockade db import`) and matching.

pub mod host;
pub mod image;
pub mod osv;
pub mod pkgdb;
pub mod version;

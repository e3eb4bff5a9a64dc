//! Full-stack tests: the real server on a random port, a fresh SQLite file
//! per test, driven over HTTP by a client that does not follow redirects.

// Helpers take JSON bodies by value so that call sites read as `json!(..)`.
#![allow(clippy::needless_pass_by_value)]

#[macro_use]
mod helpers;
mod accounts;
mod analytics;
mod backup;
mod blocklist;
mod browser;
mod browser_ui;
mod cache;
mod cli;
mod cluster;
mod doctor;
mod faults;
mod hardening;
mod import;
mod limits;
mod links;
mod mmdb;
mod operating;
mod ops;
mod qr;
mod redirect;
mod reports;
mod review;
mod sessions;
mod shlink;
mod transfer;
mod ui;
mod ui_admin;
mod ui_client;
mod ui_keys;
mod ui_links;
mod ui_stats;
mod upgrade;

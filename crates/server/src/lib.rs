//! kurz-server: the `kurz` binary's library: configuration, the HTTP edge,
//! click analytics, the CLI.
//!
//! Depends on kurz-core (use cases) and kurz-store (adapters).
//!
//! # Layout
//!
//! - [`cli`] — subcommands; [`config`]: the layered configuration.
//! - [`startup`] — builds the app from a config (tests use it too).
//! - [`serve`] — the accept loop: connection time-outs and cap.
//! - [`doctor`] — the checks of `kurz doctor`.
//! - [`http`] — routers, extractors, errors, pages, rate limits, tracing.
//! - [`analytics`] — the click queue, enrichment, and the worker that
//!   writes rollups and raw visits.
//! - [`blocklist`] — the blocklist file: reload, rescan, feed import.
//! - [`import`] — `kurz import --from`: links from other shorteners.
//! - [`accounts`], [`secret`] — users, keys, password and key hashing.
//! - [`metrics`] — `/metrics`; [`telemetry`] — logs and exported traces.

pub mod accounts;
pub mod analytics;
pub mod blocklist;
pub mod cli;
pub mod config;
mod dates;
pub mod doctor;
pub mod http;
pub mod import;
pub mod metrics;
pub mod secret;
pub mod serve;
pub mod startup;
pub mod telemetry;

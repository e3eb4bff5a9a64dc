//! kurz-core: the domain of the kurz short-link service.
//!
//! Pure logic: no sockets, no databases, no async runtime. Storage and the
//! click pipeline are reached through the traits in [`ports`].
//!
//! # Layout
//!
//! - [`slug`] — the slug codec (keyed permutation + base62), alias rules,
//!   reserved words, keyword lists.
//! - [`target`] — target URL validation and normalisation; [`blocklist`] —
//!   the blocked hosts it refuses, their file format and matching.
//! - [`link`], [`account`], [`report`] — the entities; [`analytics`] — clicks, their
//!   enrichment rules and rollups.
//! - [`ports`] — the traits adapters implement; [`clock`] — "now" as one of
//!   them; `fake` (tests, feature `fakes`) — in-memory implementations.
//! - [`service`] — the use cases, which talk only to ports.
//! - [`error`] — the error kinds the use cases return.

pub mod account;
pub mod analytics;
pub mod blocklist;
pub mod catalog;
pub mod clock;
pub mod error;
#[cfg(any(test, feature = "fakes"))]
pub mod fake;
pub mod homograph;
pub mod link;
pub mod ports;
pub mod report;
pub mod service;
pub mod slug;
pub mod target;

//! The body of `POST /api/v1/links` as the server reads it: its own body
//! type (the server's source file, compiled in here), then the core's
//! create use case over the in-memory fakes. Every input must end in a link
//! or in an error the API answers with a 400 code (a body that is not the
//! JSON object, 40000; a refused field, 400xx), never in a panic or in an
//! error that would be a 5xx.

#![no_main]

use std::sync::{Arc, OnceLock};

use kurz_core::blocklist::{self, SharedBlocklist};
use kurz_core::clock::ManualClock;
use kurz_core::error::LinkError;
use kurz_core::fake::{FakeHasher, FakeInvalidator, FakeStore};
use kurz_core::homograph::{HostPolicy, LookalikeAction};
use kurz_core::link::RedirectCode;
use kurz_core::service::{LinkPorts, LinkService, LinkSettings};
use kurz_core::slug::KeywordPolicy;
use kurz_core::target::UrlPolicy;
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};

#[path = "../../crates/server/src/http/api/create_body.rs"]
#[allow(dead_code)] // The server's update handler uses more of the file.
mod create_body;

use create_body::CreateLinkRequest;

/// One runtime for the whole run; the fakes never wait on I/O or timers.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("no runtime: {e}"))
    })
}

fn service() -> LinkService {
    // A fresh store per input: a shared one would grow with every accepted
    // link for as long as the fuzzer runs.
    let store = FakeStore::new();
    LinkService::new(
        LinkPorts {
            links: store.clone(),
            ids: store,
            hasher: Arc::new(FakeHasher::default()),
            clock: Arc::new(ManualClock::new(
                OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
            )),
            invalidator: Arc::new(FakeInvalidator::default()),
        },
        LinkSettings {
            slug_length: 6,
            default_redirect: RedirectCode::FOUND,
            url_policy: UrlPolicy {
                blocklist: SharedBlocklist::new(blocklist::parse("evil.example").0),
                own_hosts: vec!["sho.rt".into()],
                ..UrlPolicy::default()
            },
            keywords: KeywordPolicy::new(&["bad".into()], &["review".into()]),
            hosts: HostPolicy::new(vec!["paypal.com".into()], LookalikeAction::Review),
        },
    )
}

fuzz_target!(|data: &[u8]| {
    // What axum's `Json` does with the bytes (serde_json over the slice);
    // an error here is the API's 40000.
    let Ok(body) = serde_json::from_slice::<CreateLinkRequest>(data) else {
        return;
    };
    let outcome = body
        .into_create()
        .map(|input| runtime().block_on(service().create(None, input)));
    match outcome {
        Ok(Ok(_)) => {}
        Err(e) | Ok(Err(e)) => match e {
            // The 400 answers: 40010-40016, 40020-40022, 40030.
            LinkError::Url(_) | LinkError::Alias(_) | LinkError::Invalid { .. } => {}
            // Nothing in a fresh store is taken, the fakes are never down or
            // busy, and an anonymous caller is never forbidden: any of these
            // is a bug in reading or checking the body.
            other => panic!("a create body ended in {other:?}"),
        },
    }
});

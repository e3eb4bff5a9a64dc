//! The benchmark baseline of `BENCH.md`: hyper 1.x on the multi-thread
//! runtime, an in-memory map from slug to target, `302` with `Location` or
//! `404`, empty body, nothing else.
//!
//! Usage: `baseline PORT SLUGS_FILE` where each line of SLUGS_FILE is
//! `slug<TAB>target`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context;
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, LOCATION};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

type Links = HashMap<Box<str>, HeaderValue>;

fn answer(links: &Links, req: &Request<Incoming>) -> Response<Empty<Bytes>> {
    let slug = req.uri().path().trim_start_matches('/');
    let mut response = Response::new(Empty::new());
    match links.get(slug) {
        Some(target) => {
            *response.status_mut() = StatusCode::FOUND;
            response.headers_mut().insert(LOCATION, target.clone());
        }
        None => *response.status_mut() = StatusCode::NOT_FOUND,
    }
    response
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().context("PORT")?.parse().context("PORT")?;
    let file = args.next().context("SLUGS_FILE")?;
    let mut links = Links::new();
    for line in std::fs::read_to_string(&file)?.lines() {
        if let Some((slug, target)) = line.split_once('\t') {
            links.insert(slug.into(), HeaderValue::from_str(target)?);
        }
    }
    let links = Arc::new(links);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("baseline: {} slugs on port {port}", links.len());
    loop {
        let (stream, _) = listener.accept().await?;
        let links = links.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = answer(&links, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

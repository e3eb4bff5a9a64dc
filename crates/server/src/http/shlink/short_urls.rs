//! Short URLs: create, list, read, edit, delete.

use std::collections::HashSet;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use kurz_core::account::Principal;
use kurz_core::catalog::{Found, SearchOrder, SearchQuery};
use kurz_core::error::{CatalogError, LinkError};
use kurz_core::service::links::MAX_TAGS;
use kurz_core::service::{CreateLink, Created, UpdateLink};

use super::problem::Problem;
use super::{
    authority, date, dates, order_by, query_date, query_flag, query_list, query_pairs, query_value,
    Body, Listing, Paging, PathParam,
};
use crate::http::api::nullable;
use crate::http::error::ApiError;
use crate::http::extract::Auth;
use crate::http::AppState;

/// Shlink's default page of short URLs.
const DEFAULT_PER_PAGE: u32 = 10;

pub(super) fn routes(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/short-urls"), get(list).post(create))
        .route(
            &format!("{prefix}/short-urls/{{code}}"),
            get(read).patch(edit).delete(remove),
        )
        .route(
            &format!("{prefix}/short-urls/{{code}}/redirect-rules"),
            get(redirect_rules),
        )
}

/// Shlink's tags: trimmed, lower case, spaces as dashes, each once. More
/// than twice kurz's limit is refused before any work: the body may hold
/// a hundred thousand of them.
pub(super) fn normalize_tags(tags: Vec<String>) -> Result<Vec<String>, Problem> {
    if tags.len() > 2 * MAX_TAGS {
        return Err(Problem::invalid(
            "tags",
            format!("a link has at most {MAX_TAGS} tags"),
        ));
    }
    let mut seen = HashSet::with_capacity(tags.len());
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_lowercase().replace(' ', "-");
        if !tag.is_empty() && seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VisitsSummary {
    total: u64,
    non_bots: u64,
    bots: u64,
}

impl VisitsSummary {
    pub(super) fn new(total: u64, bots: u64) -> Self {
        Self {
            total,
            non_bots: total.saturating_sub(bots),
            bots,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    valid_since: Option<String>,
    valid_until: Option<String>,
    max_visits: Option<i64>,
}

/// A short URL as Shlink shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ShortUrl {
    short_code: String,
    short_url: String,
    long_url: String,
    device_long_urls: serde_json::Value,
    date_created: String,
    visits_summary: VisitsSummary,
    tags: Vec<String>,
    meta: Meta,
    /// `null`: the default (and only) domain.
    domain: Option<String>,
    title: Option<String>,
    crawlable: bool,
    forward_query: bool,
    has_redirect_rules: bool,
}

impl ShortUrl {
    fn new(found: Found, state: &AppState) -> Self {
        let Found { link, bots } = found;
        Self {
            short_url: state.site.short_url(&link.slug),
            short_code: link.slug,
            long_url: link.url,
            device_long_urls: json!({"android": null, "ios": null, "desktop": null}),
            date_created: dates::format(link.created_at),
            visits_summary: VisitsSummary::new(
                u64::try_from(link.visits).unwrap_or(0),
                u64::try_from(bots).unwrap_or(0),
            ),
            tags: link.tags,
            meta: Meta {
                valid_since: None,
                valid_until: link.expires_at.map(dates::format),
                max_visits: link.max_visits,
            },
            domain: None,
            title: link.title,
            crawlable: link.crawlable,
            forward_query: link.forward_query,
            has_redirect_rules: false,
        }
    }
}

/// A link error about `slug`, in Shlink's words where it has them. Another
/// user's link is not found, as in Shlink; only a read-only key's write is
/// forbidden (a read never is, so it tells nothing about other users'
/// links).
fn link_problem(e: LinkError, who: &Principal, slug: &str, write: bool) -> Response {
    match e {
        LinkError::NotFound => Problem::short_url_not_found(slug).into_response(),
        LinkError::Forbidden if !(write && who.read_only) => {
            Problem::short_url_not_found(slug).into_response()
        }
        LinkError::SlugTaken => Problem::non_unique_slug(slug).into_response(),
        other => ApiError::from(other).into_response(),
    }
}

/// A catalog error without a more precise Shlink answer: rendered from
/// kurz's classification.
pub(super) fn catalog_problem(e: CatalogError) -> Response {
    ApiError::from(e).into_response()
}

/// Longest title Shlink keeps; it cuts longer ones rather than refusing.
const MAX_TITLE_CHARS: usize = 512;

/// A title as Shlink keeps it: trimmed and cut at 512 characters; empty
/// is none.
fn shlink_title(title: &str) -> Option<String> {
    let title: String = title.trim().chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim_end();
    (!title.is_empty()).then(|| title.to_owned())
}

/// kurz links start when they are made: a start in the future cannot be
/// kept, one in the past changes nothing.
fn check_valid_since(value: Option<&str>, now: time::OffsetDateTime) -> Result<(), Problem> {
    match date(value, "validSince")? {
        Some(at) if at > now => Err(Problem::invalid(
            "validSince",
            "kurz links are valid from their creation: a validSince in the future is not supported",
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    long_url: Option<String>,
    custom_slug: Option<String>,
    #[serde(default)]
    find_if_exists: bool,
    short_code_length: Option<i64>,
    valid_since: Option<String>,
    valid_until: Option<String>,
    max_visits: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    title: Option<String>,
    #[serde(default)]
    crawlable: bool,
    forward_query: Option<bool>,
    domain: Option<String>,
    path_prefix: Option<String>,
    device_long_urls: Option<serde_json::Value>,
}

/// Device long URLs kurz cannot keep: any that is set. Nulls (what
/// clients send for "none") pass.
fn check_device_urls(value: Option<&serde_json::Value>) -> Result<(), Problem> {
    let set = match value {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Object(m)) => m.values().any(|v| !v.is_null()),
        Some(_) => true,
    };
    if set {
        return Err(Problem::invalid(
            "deviceLongUrls",
            "device-specific long URLs are not supported by kurz",
        ));
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Body(body): Body<CreateBody>,
) -> Response {
    match create_request(&state, body) {
        Ok((req, alias)) => match state.links.create(Some(&who), req).await {
            Ok(Created::New(link) | Created::Existing(link)) => found(&state, link).await,
            Err(e) => link_problem(e, &who, alias.as_deref().unwrap_or_default(), true),
        },
        Err(p) => p.into_response(),
    }
}

/// A link as Shlink shows it, with its bot clicks.
async fn found(state: &AppState, link: kurz_core::link::Link) -> Response {
    match state.catalog.found(link).await {
        Ok(found) => Json(ShortUrl::new(found, state)).into_response(),
        Err(e) => catalog_problem(e),
    }
}

/// kurz's create request, and the alias asked for.
fn create_request(
    state: &AppState,
    body: CreateBody,
) -> Result<(CreateLink, Option<String>), Problem> {
    check_valid_since(body.valid_since.as_deref(), state.catalog.now())?;
    check_device_urls(body.device_long_urls.as_ref())?;
    let expires_at = date(body.valid_until.as_deref(), "validUntil")?;
    if let Some(domain) = body.domain.as_deref().filter(|d| !d.is_empty()) {
        if domain != authority(&state.site.base_url) {
            return Err(Problem::invalid(
                "domain",
                "kurz serves one domain, its base URL's: other domains are not supported",
            ));
        }
    }
    if body.path_prefix.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(Problem::invalid(
            "pathPrefix",
            "path prefixes are not supported by kurz",
        ));
    }
    // Shlink's strict mode: spaces and slashes of a custom slug are dashes.
    let alias = body
        .custom_slug
        .map(|s| s.trim().replace([' ', '/'], "-"))
        .filter(|s| !s.is_empty());
    let slug_length = body
        .short_code_length
        .map(|n| {
            usize::try_from(n)
                .map_err(|_| Problem::invalid("shortCodeLength", "shortCodeLength is at least 4"))
        })
        .transpose()?;
    let req = CreateLink {
        url: body.long_url.unwrap_or_default(),
        alias: alias.clone(),
        expires_at,
        max_visits: body.max_visits,
        password: None,
        tags: normalize_tags(body.tags)?,
        title: body.title.and_then(|t| shlink_title(&t)),
        redirect_status: None,
        forward_query: body.forward_query.unwrap_or(true),
        crawlable: body.crawlable,
        reuse: body.find_if_exists,
        slug_length,
    };
    Ok((req, alias))
}

/// The filters and order of a listing, from the query.
fn search_query(
    pairs: &[(String, String)],
    paging: Paging,
    state: &AppState,
) -> Result<SearchQuery, Problem> {
    let (order, descending) = match query_value(pairs, "orderBy").filter(|o| !o.is_empty()) {
        None => (SearchOrder::Created, true),
        Some(text) => {
            let (field, descending) = order_by(text)?;
            let order = match field {
                "dateCreated" => SearchOrder::Created,
                "shortCode" => SearchOrder::Slug,
                "longUrl" => SearchOrder::Url,
                "title" => SearchOrder::Title,
                "visits" => SearchOrder::Visits,
                "nonBotVisits" => SearchOrder::HumanVisits,
                _ => {
                    return Err(Problem::invalid(
                        "orderBy",
                        format!("cannot order by {field}"),
                    ))
                }
            };
            (order, descending)
        }
    };
    let tags_all = match query_value(pairs, "tagsMode") {
        None | Some("" | "any") => false,
        Some("all") => true,
        Some(_) => return Err(Problem::invalid("tagsMode", "tagsMode is any or all")),
    };
    if !query_list(pairs, "excludeTags").is_empty() {
        return Err(Problem::invalid(
            "excludeTags",
            "excludeTags is not supported by kurz",
        ));
    }
    let now = state.catalog.now();
    Ok(SearchQuery {
        owner_id: None,
        text: query_value(pairs, "searchTerm")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        // As stored: tags made through kurz's own API keep their case.
        tags: query_list(pairs, "tags")
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        all_tags: tags_all,
        created_from: query_date(pairs, "startDate")?,
        created_to: query_date(pairs, "endDate")?,
        exclude_used_up: query_flag(pairs, "excludeMaxVisitsReached")?,
        exclude_expired_at: query_flag(pairs, "excludePastValidUntil")?.then_some(now),
        order,
        descending,
        offset: paging.offset(),
        limit: paging.per_page,
    })
}

async fn list(State(state): State<AppState>, Auth(who): Auth, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let paging = match Paging::parse(&pairs, DEFAULT_PER_PAGE) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let query = match search_query(&pairs, paging, &state) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    // Every link is on the one domain: asking for another finds none.
    let other_domain = query_value(&pairs, "domain")
        .is_some_and(|d| !d.is_empty() && d != "DEFAULT" && d != authority(&state.site.base_url));
    let page = if other_domain {
        Default::default()
    } else {
        match state.catalog.search(&who, query).await {
            Ok(page) => page,
            Err(e) => return catalog_problem(e),
        }
    };
    let data: Vec<ShortUrl> = page
        .items
        .into_iter()
        .map(|f| ShortUrl::new(f, &state))
        .collect();
    let pagination = paging.pagination(data.len(), page.total);
    Json(json!({ "shortUrls": Listing { data, pagination } })).into_response()
}

async fn read(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(code): PathParam<String>,
) -> Response {
    match state.links.get(&who, &code).await {
        Ok(link) => found(&state, link).await,
        Err(e) => link_problem(e, &who, &code, false),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditBody {
    long_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    valid_since: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    valid_until: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    max_visits: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    title: Option<Option<String>>,
    crawlable: Option<bool>,
    forward_query: Option<bool>,
    device_long_urls: Option<serde_json::Value>,
}

async fn edit(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(code): PathParam<String>,
    Body(body): Body<EditBody>,
) -> Response {
    let req = match update_request(&state, body) {
        Ok(req) => req,
        Err(p) => return p.into_response(),
    };
    match state.links.update(&who, &code, req).await {
        Ok(link) => found(&state, link).await,
        Err(e) => link_problem(e, &who, &code, true),
    }
}

fn update_request(state: &AppState, body: EditBody) -> Result<UpdateLink, Problem> {
    check_valid_since(body.valid_since.flatten().as_deref(), state.catalog.now())?;
    check_device_urls(body.device_long_urls.as_ref())?;
    let expires_at = body
        .valid_until
        .map(|v| date(v.as_deref(), "validUntil"))
        .transpose()?;
    let tags = body
        .tags
        .map(|t| normalize_tags(t.unwrap_or_default()))
        .transpose()?;
    Ok(UpdateLink {
        url: body.long_url,
        expires_at,
        max_visits: body.max_visits,
        tags,
        // An empty title clears it, as in Shlink.
        title: body.title.map(|t| t.and_then(|t| shlink_title(&t))),
        forward_query: body.forward_query,
        crawlable: body.crawlable,
        ..UpdateLink::default()
    })
}

async fn remove(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(code): PathParam<String>,
) -> Response {
    match state.links.delete(&who, &code).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => link_problem(e, &who, &code, true),
    }
}

/// kurz has no redirect rules: every link has none.
async fn redirect_rules(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(code): PathParam<String>,
) -> Response {
    match state.links.get(&who, &code).await {
        Ok(link) => Json(json!({"defaultLongUrl": link.url, "redirectRules": []})).into_response(),
        Err(e) => link_problem(e, &who, &code, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalized_as_shlink_does() {
        let tags = vec![
            "fo o".to_owned(),
            "  bar".to_owned(),
            "UUU".to_owned(),
            "Aäa".to_owned(),
            "bar".to_owned(),
            " ".to_owned(),
        ];
        assert_eq!(
            normalize_tags(tags).expect("ok"),
            ["fo-o", "bar", "uuu", "aäa"]
        );
        let many: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
        assert!(normalize_tags(many).is_err());
    }

    #[test]
    fn titles_are_trimmed_and_cut_as_shlink_does() {
        assert_eq!(shlink_title("  Padded  ").as_deref(), Some("Padded"));
        assert_eq!(shlink_title("   "), None);
        let long = "x".repeat(600);
        assert_eq!(shlink_title(&long).map(|t| t.chars().count()), Some(512));
    }
}

//! Stats pages: one link's clicks and the dashboard over all the caller's
//! links (every link, for admins), each over a range chosen with plain GET
//! forms, drawn as SVG charts that need no script.
//!
//! Both pages read the hourly rollups through the stats service only, so
//! their cost follows the length of the range and the number of names in a
//! breakdown, never the number of clicks.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

use kurz_core::analytics::Named;
use kurz_core::service::{Interval, Stats, StatsRequest};

use super::chart::{self, ChartLabels, DateStyle};
use super::i18n::{Lang, Tr};
use super::session::Viewer;
use super::{error_message, render, Nav, Page};
use crate::http::api;
use crate::http::error::ApiError;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/dashboard", get(dashboard))
        .route("/ui/links/{slug}/stats", get(link_stats))
        .route("/ui/links/{slug}/visits.csv", get(visits_csv))
}

/// Names per breakdown, and links in the dashboard's top list.
const ROWS: u32 = 10;
/// The most hourly buckets a custom range may ask for (the core's limit).
const MAX_HOURS: i64 = kurz_core::service::stats::MAX_HOURS;
const MAX_DAYS: i64 = kurz_core::service::stats::MAX_DAYS;

/// The ranges offered in the chooser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Hours24,
    Days7,
    Days30,
    Days90,
    Custom,
}

impl Preset {
    const ALL: [Self; 5] = [
        Self::Hours24,
        Self::Days7,
        Self::Days30,
        Self::Days90,
        Self::Custom,
    ];

    fn value(self) -> &'static str {
        match self {
            Self::Hours24 => "24h",
            Self::Days7 => "7d",
            Self::Days30 => "30d",
            Self::Days90 => "90d",
            Self::Custom => "custom",
        }
    }

    fn label(self, t: Tr) -> &'static str {
        match self {
            Self::Hours24 => t.get("stats.range_24h"),
            Self::Days7 => t.get("stats.range_7d"),
            Self::Days30 => t.get("stats.range_30d"),
            Self::Days90 => t.get("stats.range_90d"),
            Self::Custom => t.get("stats.range_custom"),
        }
    }

    /// Days of a preset by day, counting today.
    fn days(self) -> i64 {
        match self {
            Self::Days7 => 7,
            Self::Days90 => 90,
            _ => 30,
        }
    }
}

/// The chooser's query: `range=24h|7d|30d|90d|custom`; with `custom`,
/// `from` and `to` (`YYYY-MM-DD`, UTC, both days included) and
/// `interval=day|hour`.
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    range: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    interval: String,
}

/// One `<option>`.
#[derive(Debug)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// The chooser as the page shows it: what is chosen, the days it covers
/// (the custom fields start from them), and what was wrong with a custom
/// range.
#[derive(Debug)]
pub struct RangeForm {
    pub action: String,
    pub presets: Vec<Choice>,
    pub custom: bool,
    pub from: String,
    pub to: String,
    pub hourly: bool,
    /// "May 1 to May 30, by day (UTC)".
    pub summary: String,
    pub error: Option<String>,
    /// `from` or `to`: the field the error is about.
    pub error_field: &'static str,
}

const DAY_FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn day_value(d: Date) -> String {
    d.format(DAY_FORMAT).unwrap_or_default()
}

fn midnight(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_utc()
}

/// Reads the chooser: the form to show again and the question to ask,
/// or the message for the field that was wrong.
fn choose(
    q: &RangeQuery,
    now: OffsetDateTime,
    t: Tr,
    action: String,
) -> (RangeForm, Option<StatsRequest>) {
    let preset = Preset::ALL
        .into_iter()
        .find(|p| p.value() == q.range.trim())
        .unwrap_or(Preset::Days30);
    let now = now.to_offset(time::UtcOffset::UTC);
    let today = now.date();
    let mut error = None;
    let mut error_field = "";
    let (from, to, interval) = match preset {
        Preset::Hours24 => {
            let hour = midnight(today) + Duration::hours(now.hour().into());
            (hour - Duration::hours(23), None, Interval::Hour)
        }
        Preset::Days7 | Preset::Days30 | Preset::Days90 => (
            midnight(today) - Duration::days(preset.days() - 1),
            None,
            Interval::Day,
        ),
        Preset::Custom => {
            let interval = if q.interval == "hour" {
                Interval::Hour
            } else {
                Interval::Day
            };
            let day = |raw: &str, default: Date| {
                let raw = raw.trim();
                if raw.is_empty() {
                    Some(default)
                } else {
                    Date::parse(raw, DAY_FORMAT).ok()
                }
            };
            let from = day(&q.from, today - Duration::days(29));
            let to = day(&q.to, today);
            match (from, to) {
                (None, _) => {
                    error = Some(t.owned("stats.bad_date"));
                    error_field = "from";
                }
                (_, None) => {
                    error = Some(t.owned("stats.bad_date"));
                    error_field = "to";
                }
                (Some(f), Some(to)) if f > to => {
                    error = Some(t.owned("stats.backwards"));
                    error_field = "from";
                }
                (Some(f), Some(to)) => {
                    let days = (to - f).whole_days() + 1;
                    if interval == Interval::Hour && days * 24 > MAX_HOURS {
                        error = Some(t.fmt1("stats.too_long_hours", MAX_HOURS / 24));
                        error_field = "to";
                    } else if days > MAX_DAYS {
                        error = Some(t.fmt1("stats.too_long_days", t.num(MAX_DAYS)));
                        error_field = "to";
                    }
                }
            }
            let from = from.unwrap_or(today);
            let end = to.unwrap_or(today);
            let to = end.next_day().map(midnight);
            if to.is_none() && error.is_none() {
                error = Some(t.owned("stats.bad_date"));
                error_field = "to";
            }
            (midnight(from), to, interval)
        }
    };
    // The last day shown: a range ending at midnight ends the day before.
    let last_day = to.map_or(today, |end| (end - Duration::nanoseconds(1)).date());
    let hourly = interval == Interval::Hour;
    // What was typed comes back as typed (cut short), so it can be fixed.
    let typed = |raw: &str| -> Option<String> {
        let raw: String = raw.trim().chars().take(32).collect();
        (preset == Preset::Custom && !raw.is_empty()).then_some(raw)
    };
    let (first, last) = (show_day(from.date(), t.0), show_day(last_day, t.0));
    let summary = if hourly {
        t.fmt2("stats.showing_hourly", first, last)
    } else {
        t.fmt2("stats.showing", first, last)
    };
    let form = RangeForm {
        action,
        presets: Preset::ALL
            .into_iter()
            .map(|p| Choice {
                value: p.value(),
                label: p.label(t),
                selected: p == preset,
            })
            .collect(),
        custom: preset == Preset::Custom,
        from: typed(&q.from).unwrap_or_else(|| day_value(from.date())),
        to: typed(&q.to).unwrap_or_else(|| day_value(last_day)),
        hourly,
        summary,
        error_field,
        error,
    };
    let req = form.error.is_none().then_some(StatsRequest {
        from: Some(from),
        to,
        interval,
        limit: Some(ROWS),
    });
    (form, req)
}

/// A day as the range summary writes it.
fn show_day(d: Date, lang: Lang) -> String {
    match lang {
        Lang::En => {
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let m = MONTHS[usize::from(u8::from(d.month()) - 1) % 12];
            format!("{m} {}, {}", d.day(), d.year())
        }
        Lang::ZhCn => format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day()),
    }
}

/// One breakdown's card.
#[derive(Debug)]
pub struct Section {
    pub title: &'static str,
    /// Our own SVG and table, every value escaped by the chart module.
    pub chart: String,
}

/// A row of the dashboard's top links.
#[derive(Debug)]
pub struct TopRow {
    pub slug: String,
    pub count: String,
    pub share: String,
}

/// What both pages show of a stats answer.
#[derive(Debug)]
pub struct Summary {
    pub total: String,
    pub humans: String,
    pub bots: String,
    /// Shown only when some clicks could not be classified.
    pub unclassified: Option<String>,
    pub empty: bool,
    pub series: String,
    pub split: String,
    pub breakdowns: Vec<Section>,
    /// The dashboard's; `None` on a link's page.
    pub top_links: Option<Vec<TopRow>>,
}

/// The words the charts use, from the catalogs.
fn chart_labels(t: Tr) -> ChartLabels<'static> {
    ChartLabels {
        dates: match t.0 {
            Lang::En => DateStyle::English,
            Lang::ZhCn => DateStyle::Chinese,
        },
        thousands: ',',
        click_one: t.get("stats.click_one"),
        click_other: t.get("stats.click_other"),
        time: t.get("stats.col_time"),
        count: t.get("stats.col_count"),
        name: t.get("stats.col_name"),
        share: t.get("stats.col_share"),
        unknown: t.get("stats.unknown"),
        direct: t.get("stats.direct"),
        humans: t.get("stats.humans"),
        bots: t.get("stats.bots"),
        no_data: t.get("stats.no_data"),
    }
}

/// Device classes are the core's words (`desktop`); pages show them in
/// the reader's language.
fn device_names(devices: &[Named], t: Tr) -> Vec<Named> {
    devices
        .iter()
        .map(|d| {
            let key = format!("stats.device_{}", d.name);
            Named {
                name: if t.has(&key) {
                    t.owned(&key)
                } else {
                    d.name.clone()
                },
                count: d.count,
            }
        })
        .collect()
}

/// `part` of `whole`, to one decimal.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    let tenths = (u128::from(part) * 2000 + u128::from(whole)) / (2 * u128::from(whole));
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn summarise(stats: &Stats, form: &RangeForm, t: Tr) -> Summary {
    let labels = chart_labels(t);
    let interval = if form.hourly {
        Interval::Hour
    } else {
        Interval::Day
    };
    let title = |key: &'static str| t.get(key);
    let series_title = t.fmt1("stats.series_title", &form.summary);
    let series = chart::time_series(&stats.series, interval, &series_title, &labels).html();
    let split = chart::humans_vs_bots(
        stats.humans,
        stats.bots,
        title("stats.humans_vs_bots"),
        &labels,
    )
    .html();
    let rows = ROWS as usize;
    let devices = device_names(&stats.devices, t);
    let breakdowns = [
        ("stats.referrers", &stats.referrers),
        ("stats.countries", &stats.countries),
        ("stats.browsers", &stats.browsers),
        ("stats.os", &stats.os),
        ("stats.devices", &devices),
    ]
    .into_iter()
    .map(|(key, items)| Section {
        title: title(key),
        chart: chart::breakdown(items, stats.total, rows, title(key), &labels).html(),
    })
    .collect();
    Summary {
        total: t.num(stats.total),
        humans: t.num(stats.humans),
        bots: t.num(stats.bots),
        unclassified: (stats.unclassified > 0).then(|| t.num(stats.unclassified)),
        empty: stats.total == 0,
        series,
        split,
        breakdowns,
        top_links: stats.top_links.as_ref().map(|top| {
            top.iter()
                .map(|n| TopRow {
                    slug: n.name.clone(),
                    count: t.num(n.count),
                    share: share(n.count, stats.total),
                })
                .collect()
        }),
    }
}

/// The chooser and the answer (none when the range was refused).
#[derive(Debug)]
pub struct StatsView {
    pub range: RangeForm,
    pub summary: Option<Summary>,
    /// The heading and text an empty range shows instead of empty charts.
    pub empty: (&'static str, &'static str),
}

/// The link a stats page is about, as its heading shows it.
#[derive(Debug)]
pub struct LinkHead {
    pub slug: String,
    pub title: Option<String>,
    pub short_url: String,
    pub url: String,
}

#[derive(Debug, Template)]
#[template(path = "ui/stats_link.html")]
struct LinkStatsPage {
    page: Page,
    link: LinkHead,
    view: StatsView,
}

#[derive(Debug, Template)]
#[template(path = "ui/stats_dashboard.html")]
struct DashboardPage {
    page: Page,
    /// Admins see every link's clicks.
    all_links: bool,
    view: StatsView,
}

/// Asks `ask` for the chosen range: the view, or the page for an error
/// that is not about the range (the store failing).
async fn answer<F, Fut>(
    viewer: &Viewer,
    empty: (&'static str, &'static str),
    form: RangeForm,
    req: Option<StatsRequest>,
    ask: F,
) -> Result<(StatusCode, StatsView), Response>
where
    F: FnOnce(StatsRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Stats, ApiError>>,
{
    let t = Tr(viewer.lang);
    let Some(req) = req else {
        return Ok((
            StatusCode::BAD_REQUEST,
            StatsView {
                range: form,
                summary: None,
                empty,
            },
        ));
    };
    match ask(req).await {
        Ok(stats) => {
            let summary = summarise(&stats, &form, t);
            Ok((
                StatusCode::OK,
                StatsView {
                    range: form,
                    summary: Some(summary),
                    empty,
                },
            ))
        }
        // A range the core refuses (the checks above should have caught
        // it) is said on the form.
        Err(e @ ApiError::Invalid { .. }) => {
            let mut form = form;
            form.error = Some(error_message(viewer.lang, &e));
            form.error_field = "to";
            Ok((
                StatusCode::BAD_REQUEST,
                StatsView {
                    range: form,
                    summary: None,
                    empty,
                },
            ))
        }
        Err(e) => Err(viewer.fail(e)),
    }
}

fn range_query(query: Result<Query<RangeQuery>, QueryRejection>) -> Result<RangeQuery, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// A path that does not decode names no link.
fn slug_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(slug)| slug).map_err(|_| ApiError::NotFound)
}

/// `GET /ui/links/{slug}/stats`.
pub async fn link_stats(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let slug = slug_of(path).map_err(|e| viewer.fail(e))?;
    let q = range_query(query).map_err(|e| viewer.fail(e))?;
    // A stranger's link is "not found" before anything about the range.
    let link = state
        .stats
        .readable(who, &slug)
        .await
        .map_err(|e| viewer.fail(e))?;
    let t = Tr(viewer.lang);
    let action = format!("/ui/links/{}/stats", link.slug);
    let (form, req) = choose(&q, state.stats.now(), t, action);
    let empty = if link.visits > 0 {
        (t.get("stats.empty_heading"), t.get("stats.empty_range"))
    } else {
        (t.get("stats.never_heading"), t.get("stats.empty_never"))
    };
    let (status, view) = answer(&viewer, empty, form, req, |req| {
        let state = state.clone();
        let slug = link.slug.clone();
        async move {
            state
                .stats
                .of_link(who, &slug, &req)
                .await
                .map_err(ApiError::from)
        }
    })
    .await?;
    let head = LinkHead {
        short_url: state.site.short_url(&link.slug),
        slug: link.slug,
        title: link.title,
        url: link.url,
    };
    let page = viewer.page(t.fmt1("stats.link_title", &head.slug), Nav::Links);
    Ok(render(
        &viewer,
        status,
        &LinkStatsPage {
            page,
            link: head,
            view,
        },
    ))
}

/// `GET /ui/dashboard`.
pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let q = range_query(query).map_err(|e| viewer.fail(e))?;
    let t = Tr(viewer.lang);
    let (form, req) = choose(&q, state.stats.now(), t, "/ui/dashboard".to_owned());
    let empty = (t.get("stats.empty_heading"), t.get("stats.empty_dashboard"));
    let (status, view) = answer(&viewer, empty, form, req, |req| {
        let state = state.clone();
        async move { state.stats.overall(who, &req).await.map_err(ApiError::from) }
    })
    .await?;
    let page = viewer.page(t.owned("stats.dashboard_title"), Nav::Dashboard);
    Ok(render(
        &viewer,
        status,
        &DashboardPage {
            page,
            all_links: who.is_admin(),
            view,
        },
    ))
}

/// `GET /ui/links/{slug}/visits.csv`: the API's CSV export, for the
/// session's user instead of a key.
pub async fn visits_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?.clone();
    let slug = slug_of(path).map_err(|e| viewer.fail(e))?;
    let mut response = api::stats::visits_csv(state, who, slug.clone(), None, None)
        .await
        .map_err(|e| viewer.fail(e))?;
    let h = response.headers_mut();
    // Slugs are letters, digits, `-` and `_`; anything else keeps the
    // API's plain name.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{slug}-visits.csv\"")) {
        if slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn q(range: &str, from: &str, to: &str, interval: &str) -> RangeQuery {
        RangeQuery {
            range: range.into(),
            from: from.into(),
            to: to.into(),
            interval: interval.into(),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-03-10 14:25 UTC);

    fn pick(query: &RangeQuery) -> (RangeForm, Option<StatsRequest>) {
        choose(query, NOW, Tr(Lang::En), "/x".into())
    }

    #[test]
    fn presets_cover_whole_buckets_ending_now() {
        let (form, req) = pick(&q("", "", "", ""));
        let req = req.expect("a question");
        assert_eq!(req.from, Some(datetime!(2026-02-09 0:00 UTC)));
        assert_eq!(req.to, None);
        assert_eq!(req.interval, Interval::Day);
        assert_eq!(
            (form.from.as_str(), form.to.as_str()),
            ("2026-02-09", "2026-03-10")
        );
        assert!(form.presets.iter().any(|c| c.selected && c.value == "30d"));

        let (form, req) = pick(&q("24h", "", "", ""));
        let req = req.expect("a question");
        assert_eq!(req.from, Some(datetime!(2026-03-09 15:00 UTC)));
        assert_eq!(req.interval, Interval::Hour);
        assert!(form.hourly);

        let (_, req) = pick(&q("7d", "2020-01-01", "", "hour"));
        let req = req.expect("a question");
        assert_eq!(req.from, Some(datetime!(2026-03-04 0:00 UTC)));
        assert_eq!(req.interval, Interval::Day, "dates count only when custom");
    }

    #[test]
    fn custom_ranges_include_both_days() {
        let (form, req) = pick(&q("custom", "2026-01-01", "2026-01-31", ""));
        let req = req.expect("a question");
        assert_eq!(req.from, Some(datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(req.to, Some(datetime!(2026-02-01 0:00 UTC)));
        assert!(form.custom);
        assert_eq!(form.summary, "Jan 1, 2026 to Jan 31, 2026, by day (UTC)");

        let (_, req) = pick(&q("custom", "2026-01-01", "2026-01-01", "hour"));
        assert_eq!(req.expect("a question").interval, Interval::Hour);
        // Picking "custom" without dates starts from the last 30 days.
        let (form, req) = pick(&q("custom", "", "", ""));
        assert!(req.is_some());
        assert_eq!(
            (form.from.as_str(), form.to.as_str()),
            ("2026-02-09", "2026-03-10")
        );
    }

    #[test]
    fn bad_custom_ranges_are_said_on_their_field() {
        for (from, to, interval, field) in [
            ("yesterday", "", "", "from"),
            ("2026-01-01", "2026-13-01", "", "to"),
            ("2026-02-01", "2026-01-01", "", "from"),
            ("2026-01-01", "2026-12-31", "hour", "to"),
            ("1900-01-01", "2026-01-01", "", "to"),
            ("2026-01-01", "9999-12-31", "", "to"),
        ] {
            let (form, req) = pick(&q("custom", from, to, interval));
            assert!(req.is_none(), "{from} {to}");
            assert_eq!(form.error_field, field, "{from} {to}");
            assert!(form.error.is_some());
        }
    }

    #[test]
    fn shares_round_to_a_tenth() {
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(2, 3), "66.7%");
        assert_eq!(share(0, 0), "0%");
        assert_eq!(share(5, 5), "100.0%");
    }
}

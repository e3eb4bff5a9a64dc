//! The pages of the redirect path: password form, visit confirmation,
//! preview with its report form, and error pages, in the web UI's look and
//! languages (templates under `templates/ui/`). They take no session: the
//! redirect path never asks the store who is looking.

use askama::Template;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use kurz_core::report::ReportReason;
use kurz_core::service::reports::MAX_DETAILS;
use kurz_core::service::Hidden;

use super::error::ApiError;
use super::ui::i18n::{Lang, Tr};
use super::ui::{self, Nav, Page};

/// Escapes text for HTML element content and quoted attribute values
/// (markup built in Rust, such as charts; templates escape by themselves).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The password page's policy: its form posts here, and the right
/// password answers with a 303 to the link's target, wherever that is.
/// Chromium checks `form-action` against that redirect too, so `'self'`
/// alone blocks the very navigation the form exists for. The target's
/// origin must not be named here (it would show a protected link's host
/// to anyone), so any web origin is allowed, and nothing else
/// (`javascript:`, `data:`).
const CSP_PASSWORD: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                            img-src 'self' data:; form-action 'self' https: http:; \
                            frame-ancestors 'none'; base-uri 'none'";

/// A page of the redirect path: no one is logged in as far as it knows,
/// and its forms need no token (they change nothing of anyone's).
/// `back`: where the language switch returns to.
fn frame(lang: Lang, title_key: &str, back: &str) -> Page {
    Page::new(
        lang,
        None,
        String::new(),
        Tr(lang).owned(title_key),
        Nav::None,
        back,
    )
}

fn answer(status: StatusCode, lang: Lang, template: &impl Template, csp: &'static str) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = ui::html(status, lang, body);
            ui::secure_headers(response.headers_mut(), csp);
            response
        }
        Err(e) => ui::error_page(lang, ApiError::internal(e)),
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/password.html")]
struct PasswordPage<'a> {
    page: Page,
    slug: &'a str,
    wrong: bool,
}

/// The form a password-protected link answers with.
pub fn password_form(lang: Lang, slug: &str, status: StatusCode, wrong: bool) -> Response {
    let template = PasswordPage {
        page: frame(lang, "password.title", &format!("/{slug}")),
        slug,
        wrong,
    };
    answer(status, lang, &template, CSP_PASSWORD)
}

#[derive(Debug, Template)]
#[template(path = "ui/confirm.html")]
struct ConfirmPage<'a> {
    page: Page,
    slug: &'a str,
}

/// A visit-limited link asked for by a program (or by `HEAD`): its target
/// is shown only to a visit that counts, and a person whose browser looks
/// like a program gets there with one click. Link-preview fetchers do not
/// submit forms, so they neither see the target nor use up a visit.
pub fn confirm_visit(lang: Lang, slug: &str) -> Response {
    let template = ConfirmPage {
        page: frame(lang, "confirm.title", &format!("/{slug}")),
        slug,
    };
    answer(StatusCode::OK, lang, &template, CSP_PASSWORD)
}

/// What the report form shows again after a refused submission: the
/// choice and text as sent, and what was wrong.
#[derive(Debug, Default)]
pub struct ReportFormState<'a> {
    pub reason: Option<&'a str>,
    pub details: Option<&'a str>,
    pub error: Option<String>,
}

/// One choice of the report form's reason.
#[derive(Debug)]
struct ReasonOption {
    value: &'static str,
    label: String,
    selected: bool,
}

/// The report form as its template needs it.
#[derive(Debug)]
struct ReportForm {
    reasons: Vec<ReasonOption>,
    details: String,
    error: Option<String>,
    max_details: usize,
}

impl ReportForm {
    fn new(lang: Lang, state: &ReportFormState<'_>) -> Self {
        let t = Tr(lang);
        Self {
            reasons: ReportReason::ALL
                .iter()
                .map(|r| ReasonOption {
                    value: r.as_str(),
                    label: t.owned(&format!("preview.reason_{}", r.as_str())),
                    selected: state.reason == Some(r.as_str()),
                })
                .collect(),
            details: state.details.unwrap_or_default().to_owned(),
            error: state.error.as_deref().map(ui::capitalised),
            max_details: MAX_DETAILS,
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/preview.html")]
struct PreviewPage<'a> {
    page: Page,
    slug: &'a str,
    short_url: &'a str,
    target: Result<&'a str, String>,
    created: &'a str,
    clicks: String,
    report: ReportForm,
    /// A target that is not http(s): text, not a link.
    shown_only: Option<String>,
}

/// What `/{slug}+` shows instead of redirecting.
pub fn preview(
    lang: Lang,
    slug: &str,
    short_url: &str,
    target: Result<&str, Hidden>,
    created: &str,
    clicks: Option<i64>,
) -> Response {
    let t = Tr(lang);
    // Targets are http(s) by the core's rules; one from an old import that
    // is not is shown, never made a link.
    let linkable = |t: &&str| {
        let t = t.to_ascii_lowercase();
        t.starts_with("https://") || t.starts_with("http://")
    };
    let shown_only = target.ok().filter(|t| !linkable(t)).map(str::to_owned);
    let target = target.map_err(|hidden| {
        t.owned(match hidden {
            Hidden::Password => "preview.hidden_password",
            Hidden::VisitLimit => "preview.hidden_limit",
        })
    });
    let template = PreviewPage {
        page: frame(lang, "preview.title", &format!("/{slug}+")),
        slug,
        short_url,
        target,
        created,
        clicks: clicks.map_or_else(|| "–".to_owned(), |c| t.num(c)),
        report: ReportForm::new(lang, &ReportFormState::default()),
        shown_only,
    };
    answer(StatusCode::OK, lang, &template, ui::CSP)
}

#[derive(Debug, Template)]
#[template(path = "ui/report.html")]
struct ReportPage<'a> {
    page: Page,
    slug: &'a str,
    slug_path: String,
    received: bool,
    report: ReportForm,
}

/// The report form again, with what was wrong with the last submission.
pub fn report_refused(
    lang: Lang,
    slug: &str,
    status: StatusCode,
    state: &ReportFormState<'_>,
) -> Response {
    let template = ReportPage {
        page: frame(lang, "preview.report_title", &format!("/{slug}+")),
        slug,
        slug_path: format!("/{slug}"),
        received: false,
        report: ReportForm::new(lang, state),
    };
    answer(status, lang, &template, ui::CSP)
}

/// The answer to a report sent from the form.
pub fn report_received(lang: Lang, slug: &str) -> Response {
    let template = ReportPage {
        page: frame(lang, "preview.report_thanks", &format!("/{slug}+")),
        slug,
        slug_path: format!("/{slug}"),
        received: true,
        report: ReportForm::new(lang, &ReportFormState::default()),
    };
    answer(StatusCode::ACCEPTED, lang, &template, ui::CSP)
}

/// An error on the redirect path: a page for browsers, the API's JSON for
/// everything else.
pub fn error(err: ApiError, headers: &HeaderMap) -> Response {
    if !wants_html(headers) {
        return err.into_response();
    }
    ui::error_page(ui::session::lang_of(headers), err)
}

/// True when the client prefers HTML (a browser).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}

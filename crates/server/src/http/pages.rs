//! The few server-rendered pages of the redirect path: password form,
//! preview, and error pages. Everything shown is escaped.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use kurz_core::report::ReportReason;
use kurz_core::service::reports::MAX_DETAILS;
use kurz_core::service::Hidden;

use super::error::ApiError;

/// Escapes text for HTML element content and quoted attribute values.
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

/// The `Content-Security-Policy` of pages: no script, no plugins, no frames,
/// inline styles only, forms only to this site.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
/// The password page's: its form posts here, and the right password answers
/// with a 303 to the link's target, wherever that is. Chromium checks
/// `form-action` against that redirect too, so `'self'` alone blocks the
/// very navigation the form exists for. The target's origin must not be
/// named here (it would show a protected link's host to anyone), so any web
/// origin is allowed, and nothing else (`javascript:`, `data:`).
const CSP_PASSWORD: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                            form-action 'self' https: http:; frame-ancestors 'none'; \
                            base-uri 'none'";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with_policy(status, title, body, CSP)
}

fn page_with_policy(status: StatusCode, title: &str, body: &str, csp: &'static str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title} · kurz</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         code,.target{{word-break:break-all}}input,button,select,textarea{{font-size:1rem;padding:.4rem}}\
         textarea{{width:100%;box-sizing:border-box}}section{{margin-top:2.5rem;border-top:1px solid #ccc}}</style>\
         </head><body>{body}</body></html>",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    // Pages can show targets and forms: keep them out of shared caches and
    // frames, and their slugs out of other sites' Referer.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    response
}

/// The form a password-protected link answers with.
pub fn password_form(slug: &str, status: StatusCode, wrong: bool) -> Response {
    let mut body = String::from("<h1>This link is protected</h1>");
    if wrong {
        body.push_str("<p role=\"alert\"><strong>Wrong password.</strong> Try again.</p>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/{slug}\">\
         <label>Password <input type=\"password\" name=\"password\" autofocus required></label> \
         <button type=\"submit\">Continue</button></form>",
        slug = escape(slug)
    );
    page_with_policy(status, "Protected link", &body, CSP_PASSWORD)
}

/// A visit-limited link asked for by a program (or by `HEAD`): its target
/// is shown only to a visit that counts, and a person whose browser looks
/// like a program gets there with one click. Link-preview fetchers do not
/// submit forms, so they neither see the target nor use up a visit.
pub fn confirm_visit(slug: &str) -> Response {
    let body = format!(
        "<h1>Open this link?</h1><p>It can be opened a limited number of times.</p>\
         <form method=\"post\" action=\"/{slug}\"><button type=\"submit\">Open the link</button></form>",
        slug = escape(slug)
    );
    page_with_policy(StatusCode::OK, "Open link", &body, CSP_PASSWORD)
}

/// What `/{slug}+` shows instead of redirecting.
pub fn preview(
    slug: &str,
    short_url: &str,
    target: Result<&str, Hidden>,
    created: &str,
    clicks: i64,
) -> Response {
    let target = match target {
        Ok(t) => format!(
            "<a class=\"target\" rel=\"noopener noreferrer nofollow\" href=\"{0}\">{0}</a>",
            escape(t)
        ),
        Err(Hidden::Password) => "<em>hidden: this link is protected by a password</em>".to_owned(),
        Err(Hidden::VisitLimit) => {
            "<em>hidden: this link can be followed a limited number of times, \
             and its target is shown only by following it</em>"
                .to_owned()
        }
    };
    let mut body = format!(
        "<h1>Where this link goes</h1><p><code>{short}</code> leads to</p><p>{target}</p>\
         <dl><dt>Created</dt><dd>{created}</dd><dt>Clicks</dt><dd>{clicks}</dd></dl>",
        short = escape(short_url),
        created = escape(created),
    );
    body.push_str(&report_form(slug, &ReportFormState::default()));
    page(StatusCode::OK, "Link preview", &body)
}

/// What the report form shows again after a refused submission: the
/// choice and text as sent, and what was wrong.
#[derive(Debug, Default)]
pub struct ReportFormState<'a> {
    pub reason: Option<&'a str>,
    pub details: Option<&'a str>,
    pub error: Option<String>,
}

/// The abuse report form of the preview page: plain HTML, no script,
/// posting to `/{slug}+/report`.
fn report_form(slug: &str, state: &ReportFormState<'_>) -> String {
    let mut html = String::from("<section><h2>Report this link</h2>");
    if let Some(e) = &state.error {
        let _ = write!(
            html,
            "<p role=\"alert\"><strong>{}</strong></p>",
            escape(&capitalised(e))
        );
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"/{slug}+/report\">\
         <p><label>What is wrong with it? <select name=\"reason\" required>",
        slug = escape(slug)
    );
    for reason in ReportReason::ALL {
        let selected = if state.reason == Some(reason.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<option value=\"{}\"{selected}>{}</option>",
            reason.as_str(),
            escape(reason.label())
        );
    }
    let _ = write!(
        html,
        "</select></label></p><p><label>Details (optional)<br>\
         <textarea name=\"details\" rows=\"4\" cols=\"50\" maxlength=\"{MAX_DETAILS}\">{details}</textarea>\
         </label></p><p><button type=\"submit\">Send the report</button></p></form></section>",
        details = escape(state.details.unwrap_or_default()),
    );
    html
}

/// The report form again, with what was wrong with the last submission.
pub fn report_refused(slug: &str, status: StatusCode, state: &ReportFormState<'_>) -> Response {
    let body = format!(
        "<h1>Report a link</h1><p>About <code>/{}</code></p>{}",
        escape(slug),
        report_form(slug, state)
    );
    page(status, "Report a link", &body)
}

/// The answer to a report sent from the form.
pub fn report_received(slug: &str) -> Response {
    let body = format!(
        "<h1>Thank you</h1><p>Your report about <code>/{}</code> was received. \
         An administrator will look at it.</p>",
        escape(slug)
    );
    page(StatusCode::ACCEPTED, "Report received", &body)
}

/// An error on the redirect path: a page for browsers, the API's JSON for
/// everything else.
pub fn error(err: ApiError, headers: &HeaderMap) -> Response {
    if !wants_html(headers) {
        return err.into_response();
    }
    let (status, code) = (err.status(), super::render::code(&err));
    err.log();
    let title = match err {
        ApiError::Disabled(_) => "This link has been disabled",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let body = format!(
        "<h1>{heading}</h1><p>{message}</p><p><small>error {code}</small></p>",
        heading = escape(title),
        message = escape(&capitalised(&err.to_string())),
    );
    let mut response = page(status, title, &body);
    if let Some(wait) = err.retry_after() {
        super::render::set_retry_after(&mut response, wait);
    }
    response
}

/// A sentence's first letter in upper case (API messages start lower case).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
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

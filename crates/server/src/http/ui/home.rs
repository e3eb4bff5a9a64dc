//! The home page: shorten a URL, with every option of the API, and see the
//! short URL with a copy button and its QR code.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;

use kurz_core::error::{Field, LinkError};
use kurz_core::service::{CreateLink, Created};

use super::session::Viewer;
use super::{error_message, fields, render, Nav, Page, UiForm};
use crate::http::api::qr;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::Limit;

/// The shorten form as sent, shown again after a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct ShortenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub alias: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub max_visits: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pub redirect_status: String,
    pub forward_query: Option<String>,
}

impl ShortenForm {
    /// Whether any option is filled in (the options stay open then).
    pub fn has_options(&self) -> bool {
        [
            &self.alias,
            &self.title,
            &self.tags,
            &self.expires_at,
            &self.max_visits,
            &self.redirect_status,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
            || self.forward_query.is_some()
    }

    fn to_create(&self) -> Result<CreateLink, LinkError> {
        Ok(CreateLink {
            url: self.url.trim().to_owned(),
            alias: fields::text(&self.alias),
            expires_at: fields::time(Field::ExpiresAt, &self.expires_at)?,
            max_visits: fields::number(Field::MaxVisits, &self.max_visits)?,
            password: fields::secret(&self.password),
            tags: fields::tags(&self.tags),
            title: fields::text(&self.title),
            redirect_status: fields::status(&self.redirect_status)?,
            forward_query: fields::checked(self.forward_query.as_deref()),
            ..CreateLink::default()
        })
    }
}

/// A link just made.
#[derive(Debug)]
pub struct Made {
    pub slug: String,
    pub short_url: String,
    pub url: String,
    /// The QR code as a `data:` URL: shown and downloaded without another
    /// request (and without a route that would tell who may see it).
    pub qr: String,
}

#[derive(Debug, Template)]
#[template(path = "ui/home.html")]
struct HomePage {
    page: Page,
    can_shorten: bool,
    form: ShortenForm,
    made: Option<Made>,
    error: Option<String>,
    error_field: &'static str,
}

/// The web UI's home page: shorten a URL.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, description = "HTML")))]
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let page = viewer.page(viewer.text("home.title"), Nav::Home);
    let can_shorten = viewer.user.is_some() || state.site.allow_anonymous;
    render(
        &viewer,
        StatusCode::OK,
        &HomePage {
            page,
            can_shorten,
            form: ShortenForm::default(),
            made: None,
            error: None,
            error_field: "",
        },
    )
}

/// `POST /ui/shorten`: the link, or the form again with what was wrong.
pub async fn shorten(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<ShortenForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.user.as_ref();
    if who.is_none() && !state.site.allow_anonymous {
        return Err(viewer.fail(ApiError::Unauthenticated));
    }
    if let Some(limits) = &state.limits {
        if let Err(wait) = limits.check_ui(Limit::Create, viewer.client, who).await {
            state.metrics.rate_limited(Limit::Create);
            return Err(viewer.fail(ApiError::RateLimited(wait)));
        }
    }
    let created = match form.to_create() {
        Ok(req) => state.links.create(who, req).await,
        Err(e) => Err(e),
    };
    let page = viewer.page(viewer.text("home.title"), Nav::Home);
    let link = match created.map_err(ApiError::from) {
        Ok(Created::New(link) | Created::Existing(link)) => link,
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            let status = e.status();
            let error_field = e.field().map_or("", crate::http::render::field_name);
            let error = Some(error_message(viewer.lang, &e));
            return Ok(render(
                &viewer,
                status,
                &HomePage {
                    page,
                    can_shorten: true,
                    form: ShortenForm {
                        password: String::new(),
                        ..form
                    },
                    made: None,
                    error,
                    error_field,
                },
            ));
        }
        Err(e) => return Err(viewer.fail(e)),
    };
    let short_url = state.site.short_url(&link.slug);
    let qr = qr::svg_of(&short_url, 192)
        .map(|svg| {
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(svg)
            )
        })
        .unwrap_or_default();
    let made = Made {
        slug: link.slug,
        short_url,
        url: link.url,
        qr,
    };
    Ok(render(
        &viewer,
        StatusCode::OK,
        &HomePage {
            page,
            can_shorten: true,
            form: ShortenForm::default(),
            made: Some(made),
            error: None,
            error_field: "",
        },
    ))
}

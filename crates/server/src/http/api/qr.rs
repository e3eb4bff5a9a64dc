//! `GET /api/v1/links/{slug}/qr`: the QR code of a short URL (API.md,
//! "Links"), as SVG (default) or PNG, `size` pixels a side (64 to 2,048).
//!
//! The code is drawn here from the module grid of the `qrcode` crate: the
//! SVG as one path in a viewBox of modules (sharp at any size), the PNG one
//! bit a pixel, each pixel taking the module under it, so the side is
//! exactly `size` pixels. Both carry the four-module quiet zone readers
//! need. The picture depends only on the short URL, so it has a strong
//! `ETag` and a revalidated request costs no drawing.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use qrcode::{Color, EcLevel, QrCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use kurz_core::account::Principal;
use kurz_core::error::Field;

use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, Auth};
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/links/{slug}/qr", get(link_qr))
}

/// Sides in pixels a QR code may be asked for.
const SIZES: std::ops::RangeInclusive<u32> = 64..=2048;
const DEFAULT_SIZE: u32 = 256;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrParams {
    /// `svg` (default) or `png`.
    format: Option<String>,
    /// Pixels a side, 64 to 2048; default 256.
    size: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
}

impl QrParams {
    /// Parameters as the UI's download route takes them.
    pub fn new(format: Option<String>, size: Option<String>) -> Self {
        Self { format, size }
    }

    fn parse(self) -> Result<(Format, u32), ApiError> {
        let format = match self.format.as_deref() {
            None | Some("svg") => Format::Svg,
            Some("png") => Format::Png,
            Some(_) => return Err(ApiError::invalid(Field::Format, "format is svg or png")),
        };
        let size = match self.size {
            None => DEFAULT_SIZE,
            Some(raw) => raw
                .parse()
                .ok()
                .filter(|s| SIZES.contains(s))
                .ok_or_else(|| {
                    ApiError::invalid(Field::Size, "size is a number of pixels from 64 to 2048")
                })?,
        };
        Ok((format, size))
    }
}

/// The QR code of a link's short URL.
#[utoipa::path(get, path = "/api/v1/links/{slug}/qr", tag = "links",
    params(("slug" = String, Path), QrParams),
    responses(
        (status = 200, description = "image/svg+xml or image/png"),
        (status = 304, description = "Unchanged (If-None-Match)"),
        (status = 400, description = "Bad format or size (40030)"),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 404, description = "40401"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn link_qr(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(params): ApiQuery<QrParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    answer(&state, &who, &slug, params, &headers).await
}

/// The QR code of `slug` for `who`, as `params` ask: the API's answer, and
/// the UI's download.
pub async fn answer(
    state: &AppState,
    who: &Principal,
    slug: &str,
    params: QrParams,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (format, size) = params.parse()?;
    let link = state.links.get(who, slug).await?;
    let short_url = state.site.short_url(&link.slug);
    let etag = etag(&short_url, format, size);
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=86400"),
        ),
    ];
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii() == etag.as_bytes())
    }) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let grid = Grid::of(&short_url)?;
    Ok(match format {
        Format::Svg => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            )],
            cache,
            grid.svg(size),
        )
            .into_response(),
        Format::Png => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
            cache,
            grid.png(size)?,
        )
            .into_response(),
    })
}

/// A strong validator: what the picture is drawn from.
fn etag(short_url: &str, format: Format, size: u32) -> HeaderValue {
    let digest = Sha256::digest(format!("{short_url}\n{format:?}\n{size}"));
    let tag = format!("\"qr-{}\"", hex::encode(&digest[..12]));
    // Hex digits and quotes only.
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"qr\""))
}

/// The modules, quiet zone included: `dark[y * side + x]`.
struct Grid {
    side: usize,
    dark: Vec<bool>,
}

/// The QR code of `text` as an SVG document `size` pixels wide.
pub fn svg_of(text: &str, size: u32) -> Result<String, ApiError> {
    Ok(Grid::of(text)?.svg(size))
}

impl Grid {
    fn of(text: &str) -> Result<Self, ApiError> {
        let code =
            QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
                ApiError::internal(format!("the short URL does not fit a QR code: {e}"))
            })?;
        Ok(Self::new(&code))
    }

    fn new(code: &QrCode) -> Self {
        let width = code.width();
        let side = width + 2 * QUIET_ZONE;
        let colors = code.to_colors();
        let mut dark = vec![false; side * side];
        for (i, color) in colors.iter().enumerate() {
            let (x, y) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
            dark[y * side + x] = *color == Color::Dark;
        }
        Self { side, dark }
    }

    fn svg(&self, size: u32) -> String {
        let side = self.side;
        let mut path = String::with_capacity(self.dark.len() * 4);
        for (i, _) in self.dark.iter().enumerate().filter(|(_, d)| **d) {
            let _ = write!(path, "M{},{}h1v1h-1z", i % side, i / side);
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
             viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// One bit a pixel (black is 0), each pixel the module under its
    /// centre.
    fn png(&self, size: u32) -> Result<Vec<u8>, ApiError> {
        let pixels = size as usize;
        let row_bytes = pixels.div_ceil(8);
        let mut data = vec![0xffu8; row_bytes * pixels];
        // The module under each pixel's centre, the same for rows and
        // columns: worked out once, not four million times.
        let modules: Vec<usize> = (0..pixels)
            .map(|p| ((2 * p + 1) * self.side / (2 * pixels)).min(self.side - 1))
            .collect();
        for (y, &my) in modules.iter().enumerate() {
            let row = &self.dark[my * self.side..(my + 1) * self.side];
            let out = &mut data[y * row_bytes..(y + 1) * row_bytes];
            for (x, &mx) in modules.iter().enumerate() {
                if row[mx] {
                    out[x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        let mut out = Vec::with_capacity(row_bytes * pixels / 8);
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let written = encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&data).and_then(|()| w.finish()));
        written.map_err(|e| ApiError::internal(format!("encoding the QR code as PNG: {e}")))?;
        Ok(out)
    }
}

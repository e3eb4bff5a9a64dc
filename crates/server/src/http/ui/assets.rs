//! The UI's static files, compiled into the binary and served under a name
//! that carries a hash of their content: a browser may keep them for a
//! year, and a new build's files have new names.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// `/static/app.<hash>.css`
    url: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let hash = hex::encode(&Sha256::digest(bytes)[..8]);
    Asset {
        url: format!("/static/{stem}.{hash}.{ext}"),
        content_type,
        bytes,
    }
}

static ALL: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset(
            "app",
            "css",
            "text/css; charset=utf-8",
            include_bytes!("../../../assets/app.css"),
        ),
        asset(
            "app",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../assets/app.js"),
        ),
        asset(
            "icon",
            "svg",
            "image/svg+xml",
            include_bytes!("../../../assets/icon.svg"),
        ),
    ]
});

/// Where a page finds its files.
#[derive(Debug)]
pub struct AssetUrls {
    pub css: &'static str,
    pub js: &'static str,
    pub icon: &'static str,
}

static URLS: LazyLock<AssetUrls> = LazyLock::new(|| {
    let [css, js, icon] = &*ALL;
    AssetUrls {
        css: &css.url,
        js: &js.url,
        icon: &icon.url,
    }
});

pub fn urls() -> &'static AssetUrls {
    &URLS
}

/// `GET /static/{file}`: the file whose hashed name this is. Any other
/// name, an old build's included, is 404: its content is not here.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = ALL
        .iter()
        .find(|a| a.url.strip_prefix("/static/") == Some(file.as_str()))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several areas append to one stylesheet; a block left open would
    /// swallow every rule after it without a word from the browser.
    #[test]
    fn the_stylesheet_s_blocks_are_balanced() {
        let css = std::str::from_utf8(include_bytes!("../../../assets/app.css")).expect("UTF-8");
        let mut depth = 0i32;
        for (n, line) in css.lines().enumerate() {
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            assert!(depth >= 0, "line {}: a block closed twice", n + 1);
            assert!(
                depth == 0 || !line.starts_with("/*"),
                "line {}: a section starts inside an open block",
                n + 1
            );
        }
        assert_eq!(depth, 0, "a block is left open");
    }

    #[test]
    fn names_carry_the_content_hash() {
        let urls = urls();
        assert!(urls.css.starts_with("/static/app.") && urls.css.ends_with(".css"));
        assert_eq!(urls.css.len(), "/static/app..css".len() + 16);
        assert_ne!(urls.css, urls.js);
    }
}

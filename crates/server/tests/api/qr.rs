//! `GET /api/v1/links/{slug}/qr`: the picture decodes back to the short URL.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_error, spawn_app, Backend, TestApp};

/// The short URL a PNG QR code holds, read by an independent decoder.
pub(crate) fn decode_png(bytes: &[u8]) -> (u32, Option<String>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!(info.width, info.height, "square");
    let (w, stride) = (info.width as usize, info.line_size);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(w, w, |x, y| pixels[y * stride + x]);
    let text = image
        .detect_grids()
        .first()
        .and_then(|grid| grid.decode().ok())
        .map(|(_, text)| text);
    (info.width, text)
}

async fn qr(app: &TestApp, slug: &str, query: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/links/{slug}/qr{query}"), &app.admin_key)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn a_link_s_qr_code_decodes_to_its_short_url() {
    let app = spawn_app(Backend::Sqlite).await;
    let link = app
        .create_link(json!({"url": "https://example.com/qr", "alias": "scan-me"}))
        .await;
    let short_url = link["short_url"].as_str().expect("short_url").to_owned();

    // At 64 pixels a module is under two pixels: the picture is right,
    // but no decoder is asked to read it.
    for size in [64, 256, 300, 2048] {
        let r = qr(&app, "scan-me", &format!("?format=png&size={size}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/png");
        let (side, text) = decode_png(&r.bytes().await.expect("body"));
        assert_eq!(side, size);
        if size >= 256 {
            assert_eq!(text.as_deref(), Some(short_url.as_str()), "size {size}");
        }
    }

    let r = qr(&app, "scan-me", "").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let etag = r.headers()["etag"].clone();
    let svg = r.text().await.expect("svg");
    assert!(
        svg.starts_with("<svg") && svg.contains(r#"width="256""#),
        "{svg}"
    );

    // Revalidation costs no drawing; another size is another picture.
    let r = app
        .get("/api/v1/links/scan-me/qr", &app.admin_key)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let other = qr(&app, "scan-me", "?size=512").await;
    assert_ne!(other.headers()["etag"], etag);
}

#[tokio::test]
async fn bad_qr_questions_get_their_codes() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_link(json!({"url": "https://example.com/qr", "alias": "scan-me"}))
        .await;
    for (query, field) in [
        ("?size=63", "size"),
        ("?size=2049", "size"),
        ("?size=big", "size"),
        ("?format=gif", "format"),
    ] {
        expect_error(
            qr(&app, "scan-me", query).await,
            StatusCode::BAD_REQUEST,
            40030,
            Some(field),
        )
        .await;
    }
    expect_error(
        qr(&app, "nobody-here", "").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    let r = app
        .client
        .get(app.url("/api/v1/links/scan-me/qr"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let bob = app.user("bob").await;
    let r = app
        .get("/api/v1/links/scan-me/qr", &bob)
        .send()
        .await
        .expect("send");
    assert!(
        matches!(r.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "another user's link: {}",
        r.status()
    );
}

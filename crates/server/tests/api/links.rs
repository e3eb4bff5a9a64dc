use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_app, spawn_with, Backend};

async fn create_returns_201_with_the_whole_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(json!({"url": "https://example.com/a?b=c", "tags": ["docs"], "title": "Docs"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    assert_eq!(slug.len(), 6);
    assert!(slug.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(link["short_url"], format!("{}/{slug}", app.base));
    assert_eq!(link["url"], "https://example.com/a?b=c");
    assert_eq!(link["status"], "active");
    assert_eq!(link["visits"], 0);
    assert_eq!(link["tags"], json!(["docs"]));
    assert_eq!(link["title"], "Docs");
    assert_eq!(link["redirect_status"], 302);
    assert_eq!(link["forward_query"], false);
    assert_eq!(link["has_password"], false);
    assert_eq!(link["owner"], "admin");
    assert_eq!(link["expires_at"], Value::Null);
    assert_eq!(link["max_visits"], Value::Null);
    assert!(link["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(app.link(slug).await, link);
}

async fn create_accepts_every_documented_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(json!({
            "url": "https://example.com/", "alias": "my-Link_1", "expires_at": "2099-01-01T00:00:00Z",
            "max_visits": 5, "password": "sesame", "tags": ["a", "b"], "title": "t",
            "redirect_status": 308, "forward_query": true, "reuse": false
        }))
        .await;
    assert_eq!(link["slug"], "my-Link_1");
    assert_eq!(link["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(link["max_visits"], 5);
    assert_eq!(link["has_password"], true);
    assert_eq!(link["redirect_status"], 308);
    assert_eq!(link["forward_query"], true);
    assert!(link.get("password").is_none());
}

async fn target_urls_are_checked_with_their_own_codes(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.base_url = Some("https://sho.rt".into());
        c.links.blocked_domains = vec!["evil.example".into()];
    })
    .await;
    let cases: &[(Value, u64)] = &[
        (json!({}), 40010),
        (json!({"url": ""}), 40010),
        (json!({"url": "ftp://example.com/"}), 40011),
        (json!({"url": "javascript:alert(1)"}), 40011),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(8200))}),
            40012,
        ),
        (json!({"url": "https://exa mple.com/"}), 40013),
        (json!({"url": "https://example.com/\r\nx"}), 40013),
        (json!({"url": "https://user:pw@example.com/"}), 40013),
        (json!({"url": "https://exa\u{200b}mple.com/"}), 40013),
        (json!({"url": "https://sub.evil.example/x"}), 40014),
        (json!({"url": "http://127.0.0.1/"}), 40015),
        (json!({"url": "http://0x7f000001/"}), 40015),
        (json!({"url": "http://[::ffff:10.0.0.1]/"}), 40015),
        (json!({"url": "http://localhost:8080/"}), 40015),
        (json!({"url": "https://sho.rt/abc"}), 40016),
    ];
    for (body, code) in cases {
        let r = app
            .post("/api/v1/links", &app.admin_key, body.clone())
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, *code, Some("url")).await;
    }
}

async fn idn_hosts_become_punycode_and_paths_are_percent_encoded(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(json!({"url": "https://bücher.de/straße"}))
        .await;
    assert_eq!(link["url"], "https://xn--bcher-kva.de/stra%C3%9Fe");
    let r = app.follow(link["slug"].as_str().expect("slug")).await;
    assert_eq!(
        r.headers()["location"].as_bytes(),
        b"https://xn--bcher-kva.de/stra%C3%9Fe"
    );
}

async fn aliases_are_checked_with_their_own_codes(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.links.blocked_keywords = vec!["casino".into()]
    })
    .await;
    let cases: &[(&str, u64)] = &[
        ("has space", 40020),
        ("", 40020),
        ("a/b", 40020),
        ("ünï", 40020),
        ("api", 40021),
        ("HEALTHZ", 40021),
        ("best-Casino", 40022),
    ];
    for (alias, code) in cases {
        let r = app
            .post(
                "/api/v1/links",
                &app.admin_key,
                json!({"url": "https://example.com/", "alias": alias}),
            )
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, *code, Some("alias")).await;
    }
    let long = "a".repeat(65);
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/", "alias": long}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40020, Some("alias")).await;
}

async fn aliases_are_case_sensitive_and_taken_ones_answer_409(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_link(json!({"url": "https://example.com/1", "alias": "Guide"}))
        .await;
    app.create_link(json!({"url": "https://example.com/2", "alias": "guide"}))
        .await;
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/3", "alias": "Guide"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::CONFLICT, 40901, Some("alias")).await;
    assert_eq!(
        app.follow("Guide").await.headers()["location"],
        "https://example.com/1"
    );
    assert_eq!(
        app.follow("guide").await.headers()["location"],
        "https://example.com/2"
    );
}

async fn review_list_aliases_wait_for_an_admin(backend: Backend) {
    let app = spawn_with(backend, |c| c.links.review_keywords = vec!["promo".into()]).await;
    let link = app
        .create_link(json!({"url": "https://example.com/", "alias": "big-promo"}))
        .await;
    assert_eq!(link["status"], "pending");
    expect_error(app.follow("big-promo").await, StatusCode::GONE, 41001, None).await;

    let user_key = app.user("bob").await;
    let r = app
        .patch(
            "/api/v1/links/big-promo",
            &user_key,
            json!({"approved": true}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;

    let r = app
        .patch(
            "/api/v1/links/big-promo",
            &app.admin_key,
            json!({"approved": true}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(expect_json(r, StatusCode::OK).await["status"], "active");
    assert_eq!(app.follow("big-promo").await.status(), StatusCode::FOUND);
}

async fn other_invalid_fields_answer_40030_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = "https://example.com/";
    let cases: &[(Value, &str)] = &[
        (
            json!({"url": url, "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"url": url, "expires_at": "tomorrow"}), "expires_at"),
        (json!({"url": url, "max_visits": 0}), "max_visits"),
        (json!({"url": url, "max_visits": -3}), "max_visits"),
        (
            json!({"url": url, "redirect_status": 303}),
            "redirect_status",
        ),
        (
            json!({"url": url, "redirect_status": 200}),
            "redirect_status",
        ),
        (json!({"url": url, "tags": [""]}), "tags"),
        (json!({"url": url, "tags": ["x".repeat(65)]}), "tags"),
        (json!({"url": url, "title": "x".repeat(513)}), "title"),
        (json!({"url": url, "password": ""}), "password"),
    ];
    for (body, field) in cases {
        let r = app
            .post("/api/v1/links", &app.admin_key, body.clone())
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40030, Some(field)).await;
    }
    for query in ["limit=0", "limit=1001", "cursor=bogus"] {
        let r = app
            .get(&format!("/api/v1/links?{query}"), &app.admin_key)
            .send()
            .await
            .expect("send");
        let field = query.split('=').next();
        expect_error(r, StatusCode::BAD_REQUEST, 40030, field).await;
    }
    let slug = app.shorten("https://example.com/").await;
    let r = app
        .patch(
            &format!("/api/v1/links/{slug}"),
            &app.admin_key,
            json!({"max_visits": 0}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("max_visits")).await;
}

async fn bad_bodies_answer_40000_in_the_api_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let send_raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/links"))
            .bearer_auth(&app.admin_key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, ct) in [
        ("{not json", "application/json"),
        ("{\"url\": 42}", "application/json"),
        (
            "{\"url\": \"https://example.com/\", \"max_visits\": \"ten\"}",
            "application/json",
        ),
        (
            "{\"url\": \"https://example.com/\", \"tags\": \"a\"}",
            "application/json",
        ),
        (
            "{\"url\": \"https://example.com/\", \"surprise\": 1}",
            "application/json",
        ),
        ("[]", "application/json"),
        ("url=https://example.com/", "text/plain"),
    ] {
        let r = send_raw(body, ct).await.expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40000, None).await;
    }
    let r = app
        .client
        .post(app.url("/api/v1/links"))
        .bearer_auth(&app.admin_key)
        .body("{}")
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40000, None).await;
}

async fn bodies_over_one_mebibyte_answer_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = json!({"url": "https://example.com/", "title": "x".repeat(1024 * 1024 + 10)});
    let r = app
        .post("/api/v1/links", &app.admin_key, huge)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, 41301, None).await;
}

async fn reuse_returns_the_callers_existing_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .create_link(json!({"url": "https://example.com/same"}))
        .await;
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/same", "reuse": true}),
        )
        .send()
        .await
        .expect("send");
    let again = expect_json(r, StatusCode::OK).await;
    assert_eq!(again["slug"], first["slug"]);

    let fresh = app
        .create_link(json!({"url": "https://example.com/same"}))
        .await;
    assert_ne!(fresh["slug"], first["slug"]);

    // Another owner's link to the same URL is not theirs to reuse.
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/links",
            &bob,
            json!({"url": "https://example.com/same", "reuse": true}),
        )
        .send()
        .await
        .expect("send");
    let bobs = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(bobs["owner"], "bob");
}

async fn list_pages_newest_first_with_an_opaque_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut made = Vec::new();
    for i in 0..7 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        let link = app
            .create_link(json!({"url": format!("https://example.com/{i}"), "tags": [tag], "title": format!("Title {i}")}))
            .await;
        made.push(link["slug"].as_str().expect("slug").to_owned());
    }
    made.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let page = app.list_as(&app.admin_key, &query).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|l| l["slug"].as_str().expect("slug").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made);

    let page = app.list_as(&app.admin_key, "tag=odd").await;
    assert_eq!(page["items"].as_array().expect("items").len(), 3);
    let page = app.list_as(&app.admin_key, "q=Title%205").await;
    assert_eq!(page["items"][0]["url"], "https://example.com/5");
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    let page = app.list_as(&app.admin_key, "q=example.com%2F6").await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    let page = app.list_as(&app.admin_key, "q=%25").await;
    assert_eq!(
        page["items"].as_array().expect("items").len(),
        0,
        "% is literal"
    );
}

async fn users_see_and_change_only_their_own_links(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/links",
            &alice,
            json!({"url": "https://example.com/alice"}),
        )
        .send()
        .await
        .expect("send");
    let slug = expect_json(r, StatusCode::CREATED).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    app.post(
        "/api/v1/links",
        &bob,
        json!({"url": "https://example.com/bob"}),
    )
    .send()
    .await
    .expect("send");

    let list = app.list_as(&bob, "").await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["owner"], "bob");

    let path = format!("/api/v1/links/{slug}");
    expect_error(
        app.get(&path, &bob).send().await.expect("send"),
        StatusCode::FORBIDDEN,
        40301,
        None,
    )
    .await;
    let r = app
        .patch(&path, &bob, json!({"title": "mine"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    expect_error(
        app.delete(&path, &bob).send().await.expect("send"),
        StatusCode::FORBIDDEN,
        40301,
        None,
    )
    .await;

    // Admins see everyone's.
    let all = app.list_as(&app.admin_key, "").await;
    assert_eq!(all["items"].as_array().expect("items").len(), 2);
    assert_eq!(app.link(&slug).await["owner"], "alice");
}

async fn read_only_keys_read_but_do_not_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/").await;
    let ro = crate::helpers::key_for(&app.accounts, crate::helpers::ADMIN, true).await;
    let r = app
        .get(&format!("/api/v1/links/{slug}"), &ro)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post("/api/v1/links", &ro, json!({"url": "https://example.com/"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    let r = app
        .patch(&format!("/api/v1/links/{slug}"), &ro, json!({"title": "x"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    let r = app
        .delete(&format!("/api/v1/links/{slug}"), &ro)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
}

async fn missing_or_unknown_keys_answer_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .client
        .get(app.url("/api/v1/links"))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
    let r = app
        .get("/api/v1/links", "kurz_nope")
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
    let r = app
        .client
        .post(app.url("/api/v1/links"))
        .json(&json!({"url": "https://example.com/"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
    let r = app
        .client
        .get(app.url("/api/v1/links"))
        .header("x-api-key", &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}

async fn anonymous_creation_works_only_when_turned_on(backend: Backend) {
    let app = spawn_with(backend, |c| c.links.allow_anonymous = true).await;
    let r = app
        .client
        .post(app.url("/api/v1/links"))
        .json(&json!({"url": "https://example.com/"}))
        .send()
        .await
        .expect("send");
    let link = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(link["owner"], Value::Null);
}

async fn patch_changes_every_field_and_null_clears(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(
            json!({"url": "https://example.com/old", "expires_at": "2099-01-01T00:00:00Z",
            "max_visits": 100, "password": "pw", "title": "t", "redirect_status": 301}),
        )
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let path = format!("/api/v1/links/{slug}");
    let r = app
        .patch(&path, &app.admin_key, json!({
            "url": "https://example.com/new", "expires_at": null, "max_visits": null, "password": null,
            "tags": ["x"], "title": null, "redirect_status": 307, "forward_query": true
        }))
        .send()
        .await
        .expect("send");
    let changed = expect_json(r, StatusCode::OK).await;
    assert_eq!(changed["url"], "https://example.com/new");
    assert_eq!(changed["expires_at"], Value::Null);
    assert_eq!(changed["max_visits"], Value::Null);
    assert_eq!(changed["has_password"], false);
    assert_eq!(changed["tags"], json!(["x"]));
    assert_eq!(changed["title"], Value::Null);
    assert_eq!(changed["redirect_status"], 307);
    assert_eq!(changed["forward_query"], true);

    // The redirect sees the change at once.
    let r = app.follow(slug).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.headers()["location"], "https://example.com/new");

    // Absent fields stay; redirect_status null goes back to the default.
    let r = app
        .patch(&path, &app.admin_key, json!({"redirect_status": null}))
        .send()
        .await
        .expect("send");
    let back = expect_json(r, StatusCode::OK).await;
    assert_eq!(back["redirect_status"], 302);
    assert_eq!(back["tags"], json!(["x"]));

    let r = app
        .patch(&path, &app.admin_key, json!({"disabled": true}))
        .send()
        .await
        .expect("send");
    assert_eq!(expect_json(r, StatusCode::OK).await["status"], "disabled");
    expect_error(app.follow(slug).await, StatusCode::GONE, 41001, None).await;

    let r = app
        .patch(&path, &app.admin_key, json!({"url": "ftp://x/"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40011, Some("url")).await;
    let r = app
        .patch("/api/v1/links/nope", &app.admin_key, json!({"title": "x"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
}

async fn deleted_slugs_answer_404_and_are_never_given_out_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_link(json!({"url": "https://example.com/", "alias": "gone-soon"}))
        .await;
    let r = app
        .delete("/api/v1/links/gone-soon", &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.follow("gone-soon").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    let r = app
        .get("/api/v1/links/gone-soon", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    let r = app
        .delete("/api/v1/links/gone-soon", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/", "alias": "gone-soon"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::CONFLICT, 40901, Some("alias")).await;
}

async fn parallel_creates_all_get_distinct_slugs(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = app.client.clone();
        let url = app.url("/api/v1/links");
        let key = app.admin_key.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"url": format!("https://example.com/{i}")}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.expect("json")["slug"]
                .as_str()
                .expect("slug")
                .to_owned()
        }));
    }
    let mut slugs = HashSet::new();
    for t in tasks {
        assert!(slugs.insert(t.await.expect("task")));
    }
    assert_eq!(slugs.len(), 64);
}

async fn racing_creates_of_one_alias_give_exactly_one_201(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = app.url("/api/v1/links");
        let key = app.admin_key.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"url": format!("https://example.com/{i}"), "alias": "contested"}))
                .send()
                .await
                .expect("send")
                .status()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
}

backend_tests!(
    create_returns_201_with_the_whole_link,
    create_accepts_every_documented_field,
    target_urls_are_checked_with_their_own_codes,
    idn_hosts_become_punycode_and_paths_are_percent_encoded,
    aliases_are_checked_with_their_own_codes,
    aliases_are_case_sensitive_and_taken_ones_answer_409,
    review_list_aliases_wait_for_an_admin,
    other_invalid_fields_answer_40030_naming_the_field,
    bad_bodies_answer_40000_in_the_api_error_shape,
    bodies_over_one_mebibyte_answer_413,
    reuse_returns_the_callers_existing_link,
    list_pages_newest_first_with_an_opaque_cursor,
    users_see_and_change_only_their_own_links,
    read_only_keys_read_but_do_not_write,
    missing_or_unknown_keys_answer_401,
    anonymous_creation_works_only_when_turned_on,
    patch_changes_every_field_and_null_clears,
    deleted_slugs_answer_404_and_are_never_given_out_again,
    parallel_creates_all_get_distinct_slugs,
    racing_creates_of_one_alias_give_exactly_one_201,
);

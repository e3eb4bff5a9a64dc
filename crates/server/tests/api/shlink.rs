//! Shlink's REST API (`/rest/v3`, `/rest/v2`) on every backend: the shapes,
//! paging, filters, tags and visits its clients rely on. The Shlink SDK's
//! own suite (`compat/shlink`) drives the same routes from Node.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, BROWSER_UA};

const REST: &str = "/rest/v3";

impl TestApp {
    fn rest(&self, method: reqwest::Method, path: &str, key: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("{REST}{path}")))
            .header("X-Api-Key", key)
    }

    async fn rest_json(&self, path: &str, key: &str) -> Value {
        let r = self
            .rest(reqwest::Method::GET, path, key)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json")
    }

    async fn shlink_create(&self, key: &str, body: Value) -> Value {
        let r = self
            .rest(reqwest::Method::POST, "/short-urls", key)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "create {body}");
        r.json().await.expect("json")
    }
}

/// Asserts a Shlink problem answer and returns it.
async fn problem(r: reqwest::Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["type"], format!("https://shlink.io/api/error/{kind}"));
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

fn codes(list: &Value) -> Vec<String> {
    list["shortUrls"]["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u["shortCode"].as_str().expect("code").to_owned())
        .collect()
}

async fn short_urls_are_created_read_listed_edited_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.admin_key.clone();
    let made = app
        .shlink_create(
            &key,
            json!({"longUrl": "https://example.com/a", "customSlug": "my slug",
                   "tags": ["Foo Bar", "x", "x"], "title": "A title", "maxVisits": 5,
                   "validUntil": "2099-01-02T03:04:05+01:00", "crawlable": true}),
        )
        .await;
    assert_eq!(made["shortCode"], "my-slug");
    assert_eq!(made["shortUrl"], app.url("/my-slug"));
    assert_eq!(made["tags"], json!(["foo-bar", "x"]));
    assert_eq!(made["forwardQuery"], true, "Shlink's default");
    assert_eq!(made["meta"]["validUntil"], "2099-01-02T02:04:05+00:00");
    assert_eq!(made["meta"]["maxVisits"], 5);
    assert_eq!(
        made["visitsSummary"],
        json!({"total": 0, "nonBots": 0, "bots": 0})
    );
    assert_eq!(made["domain"], Value::Null);
    let created = made["dateCreated"].as_str().expect("date");
    assert!(
        created.ends_with("+00:00") && created.len() == 25,
        "{created}"
    );

    // The same slug again: Shlink's error; findIfExists returns the link.
    let r = app
        .rest(reqwest::Method::POST, "/short-urls", &key)
        .json(&json!({"longUrl": "https://example.com/b", "customSlug": "my-slug"}))
        .send()
        .await
        .expect("send");
    let p = problem(r, StatusCode::BAD_REQUEST, "non-unique-slug").await;
    assert_eq!(p["customSlug"], "my-slug");
    // kurz's reuse rule: the same target with the same expiry and limit.
    let plain = app
        .shlink_create(&key, json!({"longUrl": "https://example.com/plain"}))
        .await;
    let again = app
        .shlink_create(
            &key,
            json!({"longUrl": "https://example.com/plain", "findIfExists": true}),
        )
        .await;
    assert_eq!(again["shortCode"], plain["shortCode"]);

    let generated = app
        .shlink_create(
            &key,
            json!({"longUrl": "https://example.com/long", "shortCodeLength": 9,
                   "forwardQuery": false}),
        )
        .await;
    assert_eq!(generated["shortCode"].as_str().expect("code").len(), 9);
    assert_eq!(generated["forwardQuery"], false);

    let one = app.rest_json("/short-urls/my-slug", &key).await;
    assert_eq!(one["title"], "A title");
    assert_eq!(one["crawlable"], true);

    // Edit, then clear with nulls.
    let r = app
        .rest(reqwest::Method::PATCH, "/short-urls/my-slug", &key)
        .json(&json!({"longUrl": "https://example.org/new", "tags": ["New"], "crawlable": false}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let edited: Value = r.json().await.expect("json");
    assert_eq!(edited["longUrl"], "https://example.org/new");
    assert_eq!(edited["tags"], json!(["new"]));
    assert_eq!(
        app.follow("my-slug").await.headers()["location"],
        "https://example.org/new"
    );
    let r = app
        .rest(reqwest::Method::PATCH, "/short-urls/my-slug", &key)
        .json(&json!({"title": null, "maxVisits": null, "validUntil": null}))
        .send()
        .await
        .expect("send");
    let cleared: Value = r.json().await.expect("json");
    assert_eq!(cleared["title"], Value::Null);
    assert_eq!(
        cleared["meta"],
        json!({"validSince": null, "validUntil": null, "maxVisits": null})
    );

    // kurz's own rules stay, in Shlink's shape.
    let r = app
        .rest(reqwest::Method::POST, "/short-urls", &key)
        .json(&json!({"longUrl": "ftp://example.com/x"}))
        .send()
        .await
        .expect("send");
    let p = problem(r, StatusCode::BAD_REQUEST, "invalid-data").await;
    assert_eq!(p["invalidElements"], json!(["longUrl"]));
    let r = app
        .rest(reqwest::Method::POST, "/short-urls", &key)
        .json(&json!({"longUrl": "https://example.com/", "validSince": "2099-01-01"}))
        .send()
        .await
        .expect("send");
    let p = problem(r, StatusCode::BAD_REQUEST, "invalid-data").await;
    assert_eq!(p["invalidElements"], json!(["validSince"]));

    let r = app
        .rest(reqwest::Method::DELETE, "/short-urls/my-slug", &key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .rest(reqwest::Method::GET, "/short-urls/my-slug", &key)
        .send()
        .await
        .expect("send");
    let p = problem(r, StatusCode::NOT_FOUND, "short-url-not-found").await;
    assert_eq!(p["shortCode"], "my-slug");
}

async fn lists_page_filter_and_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.admin_key.clone();
    for (slug, url, tags, title) in [
        (
            "aaa",
            "https://example.com/3",
            json!(["red", "blue"]),
            "Zeta",
        ),
        ("bbb", "https://example.com/1", json!(["red"]), "Alpha"),
        ("ccc", "https://example.com/2", json!(["blue"]), "Mid"),
    ] {
        app.shlink_create(
            &key,
            json!({"longUrl": url, "customSlug": slug, "tags": tags, "title": title}),
        )
        .await;
    }
    app.shlink_create(
        &key,
        json!({"longUrl": "https://example.com/used", "customSlug": "used", "maxVisits": 1}),
    )
    .await;
    assert_eq!(app.click("used", BROWSER_UA, None).await, StatusCode::FOUND);

    let all = app.rest_json("/short-urls", &key).await;
    assert_eq!(codes(&all), ["used", "ccc", "bbb", "aaa"], "newest first");
    let page = app
        .rest_json(
            "/short-urls?itemsPerPage=2&page=2&orderBy=shortCode-ASC",
            &key,
        )
        .await;
    assert_eq!(codes(&page), ["ccc", "used"]);
    assert_eq!(
        page["shortUrls"]["pagination"],
        json!({"currentPage": 2, "pagesCount": 2, "itemsPerPage": 2,
               "itemsInCurrentPage": 2, "totalItems": 4})
    );
    let by_url = app
        .rest_json("/short-urls?orderBy=longUrl-DESC", &key)
        .await;
    assert_eq!(codes(&by_url), ["used", "aaa", "ccc", "bbb"]);
    let by_title = app.rest_json("/short-urls?orderBy=title-ASC", &key).await;
    assert_eq!(
        codes(&by_title),
        ["used", "bbb", "ccc", "aaa"],
        "no title first"
    );

    let any = app
        .rest_json(
            "/short-urls?tags[]=red&tags[]=blue&orderBy=shortCode-ASC",
            &key,
        )
        .await;
    assert_eq!(codes(&any), ["aaa", "bbb", "ccc"]);
    let every = app
        .rest_json("/short-urls?tags[]=red&tags[]=blue&tagsMode=all", &key)
        .await;
    assert_eq!(codes(&every), ["aaa"]);
    let search = app.rest_json("/short-urls?searchTerm=alph", &key).await;
    assert_eq!(codes(&search), ["bbb"]);
    let live = app
        .rest_json(
            "/short-urls?excludeMaxVisitsReached=true&orderBy=shortCode-ASC",
            &key,
        )
        .await;
    assert_eq!(codes(&live), ["aaa", "bbb", "ccc"]);
    let none = app
        .rest_json("/short-urls?startDate=2099-01-01T00:00:00Z", &key)
        .await;
    assert_eq!(none["shortUrls"]["pagination"]["totalItems"], 0);

    // Another user sees only their own links; the admin's are not found.
    let bob = app.user("bob").await;
    let mine = app.rest_json("/short-urls", &bob).await;
    assert_eq!(mine["shortUrls"]["pagination"]["totalItems"], 0);
    let r = app
        .rest(reqwest::Method::GET, "/short-urls/aaa", &bob)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_FOUND, "short-url-not-found").await;
}

async fn visits_tags_and_the_overview(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.admin_key.clone();
    app.shlink_create(
        &key,
        json!({"longUrl": "https://example.com/v", "customSlug": "vis", "tags": ["t1", "t2"]}),
    )
    .await;
    app.shlink_create(
        &key,
        json!({"longUrl": "https://example.com/w", "customSlug": "other", "tags": ["t2"]}),
    )
    .await;
    for _ in 0..2 {
        app.click("vis", BROWSER_UA, Some("https://news.example.net/a"))
            .await;
    }
    app.click("vis", "curl/8.0", None).await;
    app.click("other", BROWSER_UA, None).await;
    app.wait_for_visits("vis", 3).await;
    app.wait_for_visits("other", 1).await;

    let visits = app.rest_json("/short-urls/vis/visits", &key).await;
    let data = visits["visits"]["data"].as_array().expect("data");
    assert_eq!(data.len(), 3);
    assert_eq!(data.iter().filter(|v| v["potentialBot"] == true).count(), 1);
    assert!(data.iter().any(|v| v["referer"] == "news.example.net"));
    assert!(data.iter().any(|v| v["userAgent"] == "curl/8.0"));
    assert_eq!(visits["visits"]["pagination"]["totalItems"], 3);
    let humans = app
        .rest_json(
            "/short-urls/vis/visits?excludeBots=true&itemsPerPage=1",
            &key,
        )
        .await;
    assert_eq!(humans["visits"]["pagination"]["totalItems"], 2);
    assert_eq!(humans["visits"]["data"].as_array().expect("data").len(), 1);
    let one = app.rest_json("/short-urls/vis", &key).await;
    assert_eq!(
        one["visitsSummary"],
        json!({"total": 3, "nonBots": 2, "bots": 1})
    );

    let tag = app.rest_json("/tags/t2/visits", &key).await;
    assert_eq!(tag["visits"]["pagination"]["totalItems"], 4);
    let r = app
        .rest(reqwest::Method::GET, "/tags/nope/visits", &key)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_FOUND, "tag-not-found").await;
    let all = app.rest_json("/visits/non-orphan", &key).await;
    assert_eq!(all["visits"]["pagination"]["totalItems"], 4);
    let orphan = app.rest_json("/visits/orphan", &key).await;
    assert_eq!(orphan["visits"]["data"], json!([]));
    let overview = app.rest_json("/visits", &key).await;
    assert_eq!(
        overview["visits"]["nonOrphanVisits"],
        json!({"total": 4, "nonBots": 3, "bots": 1})
    );

    let stats = app.rest_json("/tags/stats", &key).await;
    assert_eq!(
        stats["tags"]["data"],
        json!([
            {"tag": "t1", "shortUrlsCount": 1, "visitsSummary": {"total": 3, "nonBots": 2, "bots": 1}},
            {"tag": "t2", "shortUrlsCount": 2, "visitsSummary": {"total": 4, "nonBots": 3, "bots": 1}},
        ])
    );

    // Renaming onto an existing tag conflicts; renaming merges nothing twice.
    let rename = |old: &str, new: &str| {
        app.rest(reqwest::Method::PUT, "/tags", &key)
            .json(&json!({"oldName": old, "newName": new}))
    };
    let r = rename("t1", "t2").send().await.expect("send");
    problem(r, StatusCode::CONFLICT, "tag-conflict").await;
    let r = rename("missing", "x").send().await.expect("send");
    problem(r, StatusCode::NOT_FOUND, "tag-not-found").await;
    let r = rename("t1", "first").send().await.expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let names = app.rest_json("/tags", &key).await;
    assert_eq!(names["tags"]["data"], json!(["first", "t2"]));
    let r = app
        .rest(reqwest::Method::DELETE, "/tags?tags[]=t2", &key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.rest_json("/short-urls/other", &key).await["tags"],
        json!([])
    );
    assert_eq!(
        app.rest_json("/short-urls/vis", &key).await["tags"],
        json!(["first"])
    );

    // Users may not rename or delete tags.
    let bob = app.user("bob").await;
    let r = app
        .rest(reqwest::Method::DELETE, "/tags?tags[]=first", &bob)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::FORBIDDEN, "forbidden-tag-operation").await;
}

async fn keys_health_domains_cors_and_robots(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.admin_key.clone();
    for path in ["/rest/health", "/rest/v3/health", "/rest/v2/health"] {
        let r = app.client.get(app.url(path)).send().await.expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], "pass");
        let major: u32 = body["version"].as_str().expect("version")[..1]
            .parse()
            .expect("a number");
        assert!(major >= 4);
    }
    let r = app
        .client
        .get(app.url("/rest/v3/short-urls"))
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::UNAUTHORIZED, "missing-authentication").await;
    let r = app
        .rest(reqwest::Method::GET, "/short-urls", "not-a-key")
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::UNAUTHORIZED, "invalid-api-key").await;
    let read_only = crate::helpers::key_for(&app.accounts, "admin", true).await;
    let r = app
        .rest(reqwest::Method::POST, "/short-urls", &read_only)
        .json(&json!({"longUrl": "https://example.com/"}))
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::FORBIDDEN, "forbidden-operation").await;
    let r = app
        .rest(
            reqwest::Method::GET,
            "/short-urls/x/redirect-rules/none",
            &key,
        )
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_FOUND, "not-found").await;

    let domains = app.rest_json("/domains", &key).await;
    let authority = app.base.trim_start_matches("http://");
    assert_eq!(domains["domains"]["data"][0]["domain"], authority);
    assert_eq!(domains["domains"]["data"][0]["isDefault"], true);
    let r = app
        .rest(reqwest::Method::GET, "/mercure-info", &key)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_IMPLEMENTED, "mercure-not-configured").await;

    // The v2 prefix serves the same contract.
    app.client
        .get(app.url("/rest/v2/short-urls"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("send")
        .error_for_status()
        .expect("200");

    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/rest/v3/short-urls"))
        .header("origin", "https://app.shlink.io")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key, content-type")
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(allowed.contains("x-api-key"), "{allowed}");
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii")
        .contains("PATCH"));
    // The rest of the service stays same-origin.
    let r = app
        .client
        .get(app.url("/api/v1/links"))
        .header("origin", "https://app.shlink.io")
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    app.shlink_create(
        &key,
        json!({"longUrl": "https://example.com/c", "customSlug": "crawl-me", "crawlable": true}),
    )
    .await;
    app.shlink_create(
        &key,
        json!({"longUrl": "https://example.com/n", "customSlug": "hidden"}),
    )
    .await;
    let robots = app.robots_txt().await;
    assert!(robots.contains("Allow: /crawl-me$\n"), "{robots}");
    assert!(!robots.contains("hidden"));
    assert!(robots.trim_end().ends_with("Disallow: /"));
}

async fn users_see_only_their_own_and_read_only_keys_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_key.clone();
    let bob = app.user("bob").await;
    app.shlink_create(
        &admin,
        json!({"longUrl": "https://example.com/a", "customSlug": "admins", "tags": ["secret"]}),
    )
    .await;
    app.click("admins", BROWSER_UA, None).await;
    app.wait_for_visits("admins", 1).await;
    let mine = app
        .shlink_create(
            &bob,
            json!({"longUrl": "https://example.com/b", "customSlug": "bobs", "tags": ["Mine"]}),
        )
        .await;
    assert_eq!(mine["tags"], json!(["mine"]));

    // Bob's tags, visits and totals hold nothing of the admin's.
    let tags = app.rest_json("/tags/stats", &bob).await;
    assert_eq!(tags["tags"]["data"][0]["tag"], "mine");
    assert_eq!(tags["tags"]["pagination"]["totalItems"], 1);
    let overview = app.rest_json("/visits", &bob).await;
    assert_eq!(overview["visits"]["nonOrphanVisits"]["total"], 0);
    let all = app.rest_json("/visits/non-orphan", &bob).await;
    assert_eq!(all["visits"]["pagination"]["totalItems"], 0);
    for path in [
        "/short-urls/admins/visits",
        "/short-urls/admins/redirect-rules",
    ] {
        let r = app
            .rest(reqwest::Method::GET, path, &bob)
            .send()
            .await
            .expect("send");
        problem(r, StatusCode::NOT_FOUND, "short-url-not-found").await;
    }
    let r = app
        .rest(reqwest::Method::GET, "/tags/secret/visits", &bob)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_FOUND, "tag-not-found").await;
    // Searching finds tag names, and only among the caller's links.
    assert_eq!(
        codes(&app.rest_json("/short-urls?searchTerm=ecre", &bob).await),
        Vec::<String>::new()
    );
    assert_eq!(
        codes(&app.rest_json("/short-urls?searchTerm=ecre", &admin).await),
        ["admins"]
    );
    assert_eq!(
        codes(&app.rest_json("/short-urls?searchTerm=%5B", &admin).await),
        Vec::<String>::new()
    );

    // A read-only key reads, and changes nothing; another user's link is
    // not found for it either, never forbidden.
    let read_only = crate::helpers::key_for(&app.accounts, "bob", true).await;
    assert_eq!(
        app.rest_json("/short-urls/bobs", &read_only).await["shortCode"],
        "bobs"
    );
    let r = app
        .rest(reqwest::Method::GET, "/short-urls/admins", &read_only)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::NOT_FOUND, "short-url-not-found").await;
    let r = app
        .rest(reqwest::Method::PATCH, "/short-urls/bobs", &read_only)
        .json(&json!({"title": "changed"}))
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::FORBIDDEN, "forbidden-operation").await;
    let r = app
        .rest(reqwest::Method::DELETE, "/short-urls/bobs", &read_only)
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::FORBIDDEN, "forbidden-operation").await;
    let admin_read_only = crate::helpers::key_for(&app.accounts, "admin", true).await;
    let r = app
        .rest(reqwest::Method::PUT, "/tags", &admin_read_only)
        .json(&json!({"oldName": "secret", "newName": "open"}))
        .send()
        .await
        .expect("send");
    problem(r, StatusCode::FORBIDDEN, "forbidden-tag-operation").await;
    assert_eq!(
        app.rest_json("/short-urls/bobs", &bob).await["title"],
        Value::Null
    );

    // A body of a hundred thousand tags is refused before any work.
    let many: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    let r = app
        .rest(reqwest::Method::PATCH, "/short-urls/bobs", &bob)
        .json(&json!({"tags": many}))
        .send()
        .await
        .expect("send");
    let p = problem(r, StatusCode::BAD_REQUEST, "invalid-data").await;
    assert_eq!(p["invalidElements"], json!(["tags"]));
}

backend_tests!(
    users_see_only_their_own_and_read_only_keys_write_nothing,
    short_urls_are_created_read_listed_edited_and_deleted,
    lists_page_filter_and_order,
    visits_tags_and_the_overview,
    keys_health_domains_cors_and_robots,
);

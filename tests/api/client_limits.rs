//! The limits kept per client address, behind the reverse proxy every real
//! deployment has: token guessing slowed to 429 while the right token keeps
//! working, new sessions per address, and `X-Forwarded-For` believed only
//! from `trusted_proxies` (a client that forges it gains nothing). Also
//! the pages' security headers.

use crate::helpers::*;
use std::time::Duration;

/// A request to `server` with `token` (if any), claiming to be forwarded
/// for `forwarded_for` (if any).
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = http.request(method, format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    request.send().await.unwrap()
}

/// A token nobody was given.
fn guess() -> String {
    format!("guess-{}", uuid::Uuid::new_v4())
}

#[api_test]
async fn a_guessing_run_is_slowed_to_429_while_the_right_token_still_works() {
    let server = spawn_app_with(|s| {
        s.token_guesses_per_minute = 5;
        s.trusted_proxies = vec!["127.0.0.1".into()];
    });
    let guest = server.client().guest().await;
    let (guesser, customer) = (Some("203.0.113.7"), Some("198.51.100.20"));
    let mut answers = Vec::new();
    for _ in 0..12 {
        let answer = send(
            &server,
            reqwest::Method::GET,
            "/v1/bookings",
            Some(&guess()),
            guesser,
        )
        .await;
        answers.push(answer.status().as_u16());
        if answer.status() == 429 {
            assert!(answer.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(&answers[..5], &[401; 5], "{answers:?}");
    assert!(answers[5..].iter().all(|&s| s == 429), "{answers:?}");
    // Throttled before its tokens are looked at: a right token from the
    // guessing address is refused too, so the run learns nothing.
    let from_guesser = send(
        &server,
        reqwest::Method::GET,
        "/v1/bookings",
        Some(&guest.token()),
        guesser,
    )
    .await;
    assert_eq!(from_guesser.status(), 429);
    // Anywhere else, the right token works, and so do other clients' misses.
    let from_customer = send(
        &server,
        reqwest::Method::GET,
        "/v1/bookings",
        Some(&guest.token()),
        customer,
    )
    .await;
    assert_eq!(from_customer.status(), 200);
    let elsewhere = send(
        &server,
        reqwest::Method::GET,
        "/v1/bookings",
        Some(&guess()),
        customer,
    )
    .await;
    assert_eq!(elsewhere.status(), 401);
    // The admin token is guessed the same way, and throttled the same way.
    let admin_guess = send(
        &server,
        reqwest::Method::GET,
        "/v1/cluster",
        Some(&guess()),
        guesser,
    )
    .await;
    assert_eq!(admin_guess.status(), 429);
}

#[api_test]
async fn a_client_that_forges_forwarded_for_gains_nothing() {
    // No trusted proxy: the peer is the client, whatever the header says.
    let server = spawn_app_with(|s| {
        s.token_guesses_per_minute = 5;
        s.session_rate_limit = 1;
        s.session_burst_factor = 3;
    });
    let mut guesses = Vec::new();
    for n in 0..8 {
        let forged = format!("203.0.113.{n}");
        let answer = send(
            &server,
            reqwest::Method::GET,
            "/v1/bookings",
            Some(&guess()),
            Some(&forged),
        )
        .await;
        guesses.push(answer.status().as_u16());
    }
    assert_eq!(guesses, [401, 401, 401, 401, 401, 429, 429, 429]);
    let mut sessions = Vec::new();
    for n in 0..5 {
        let forged = format!("198.51.100.{n}");
        let answer = send(
            &server,
            reqwest::Method::POST,
            "/v1/sessions",
            None,
            Some(&forged),
        )
        .await;
        sessions.push(answer.status().as_u16());
    }
    assert_eq!(sessions, [201, 201, 201, 429, 429]);
}

#[api_test]
async fn behind_a_trusted_proxy_each_client_has_its_own_allowance() {
    let server = spawn_app_with(|s| {
        s.session_rate_limit = 1;
        s.session_burst_factor = 2;
        s.trusted_proxies = vec!["127.0.0.0/8".into()];
    });
    for client in ["198.51.100.1", "198.51.100.2"] {
        // A client's own forged entry on the left is not believed: the
        // proxy's (the rightmost) names the client.
        let header = format!("10.9.9.9, {client}");
        let statuses: Vec<u16> = futures_util::future::join_all((0..3).map(|_| {
            send(
                &server,
                reqwest::Method::POST,
                "/v1/sessions",
                None,
                Some(&header),
            )
        }))
        .await
        .iter()
        .map(|answer| answer.status().as_u16())
        .collect();
        let created = statuses.iter().filter(|&&s| s == 201).count();
        assert_eq!(created, 2, "{client}: {statuses:?}");
    }
}

#[api_test]
async fn the_pages_send_a_content_security_policy_and_no_referrer() {
    let server = spawn_app();
    for path in [
        "/",
        "/app.js",
        "/style.css",
        "/seatmap.js",
        "/admin",
        "/admin.js",
        "/admin-create.js",
        "/admin-show.js",
        "/admin.css",
    ] {
        let answer = send(&server, reqwest::Method::GET, path, None, None).await;
        assert_eq!(answer.status(), 200, "{path}");
        let policy = answer
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap()
            .to_string();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(
            answer
                .headers()
                .get("referrer-policy")
                .map(|v| v.to_str().unwrap()),
            Some("no-referrer"),
            "{path}"
        );
    }
    // The page runs no inline script: every script is a file of its own.
    let page = send(&server, reqwest::Method::GET, "/", None, None)
        .await
        .text()
        .await
        .unwrap();
    for script in page.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or("");
        assert!(tag.contains("src="), "an inline script: <script{tag}>");
    }
}

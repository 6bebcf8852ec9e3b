//! The simulated VMmanager 6 driven by plain HTTP (reqwest, no client layer), as a person with
//! curl would: the 201 of token creation, the 401 and error shape of the reference (§4.2,
//! §4.3, §7), `where` filters written by hand, and bad requests answered in the panel's shape.

use hostplane::simulator::{Config, SimHandle, start_in_process};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "Adm1n-Pa55-http";

async fn start() -> (SimHandle, reqwest::Client) {
    let sim = start_in_process(Config::new(ADMIN, PASSWORD))
        .await
        .unwrap();
    // The crate's HTTP builder only installs the rustls provider; requests below are plain
    // reqwest, without the VMmanager 6 client layer.
    let http = hostplane::panel::http_client(&Default::default()).unwrap();
    (sim, http)
}

async fn token(sim: &SimHandle, http: &reqwest::Client) -> String {
    let response = http
        .post(sim.url("/auth/v4/public/token"))
        .json(&json!({"email": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// `{"error":{"code":<int>,"msg":"<text>","value":…}}`.
fn assert_error_shape(body: &Value) {
    let error = &body["error"];
    assert!(error["code"].is_i64(), "{body}");
    assert!(
        error["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error.get("value").is_some(), "{body}");
}

#[tokio::test]
async fn token_creation_answers_201_with_token_and_id() {
    let (sim, http) = start().await;
    let response = http
        .post(sim.url("/auth/v4/public/token"))
        .json(&json!({"email": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(token.starts_with(&format!("{id}-")), "{body}");
    assert_eq!(body["confirmed"], json!(true));

    let refused = http
        .post(sim.url("/auth/v4/public/token"))
        .json(&json!({"email": ADMIN, "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&refused.json().await.unwrap());
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401_in_the_error_shape() {
    let (sim, http) = start().await;
    let missing = http.get(sim.url("/vm/v3/host")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&missing.json().await.unwrap());

    let bogus = http
        .get(sim.url("/vm/v3/host"))
        .header("x-xsrf-token", "4-0000")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&bogus.json().await.unwrap());

    let token = token(&sim, &http).await;
    // The header and the ses6 cookie both authenticate.
    for request in [
        http.get(sim.url("/vm/v3/host"))
            .header("x-xsrf-token", &token),
        http.get(sim.url("/vm/v3/host"))
            .header("cookie", format!("lang=en; ses6={token}")),
    ] {
        let ok = request.send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let body: Value = ok.json().await.unwrap();
        assert_eq!(body["list"], json!([]));
        assert!(body["last_notify"].is_u64(), "{body}");
    }

    // An hour and a minute of inactivity on the simulator clock.
    let advanced = http
        .post(sim.url("/_admin/clock/advance"))
        .json(&json!({"seconds": 3660}))
        .send()
        .await
        .unwrap();
    assert!(advanced.status().is_success());
    let expired = http
        .get(sim.url("/vm/v3/host"))
        .header("x-xsrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&expired.json().await.unwrap());
}

#[tokio::test]
async fn create_host_then_poll_its_task_by_hand() {
    let (sim, http) = start().await;
    let token = token(&sim, &http).await;
    let post = |path: &str, body: Value| {
        http.post(sim.url(path))
            .header("x-xsrf-token", &token)
            .json(&body)
    };
    let account: Value = post(
        "/vm/v3/account",
        json!({"email": "jane@example.com", "password": "x", "role": "@user"}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let created = post(
        "/vm/v3/host",
        json!({"name": "cont1234", "password": "S3cret!", "cluster": 1, "os": 8211,
               "cpu_number": 2, "ram_mib": 2048, "hdd_mib": 20480,
               "account": account["id"], "ipv4_number": 1, "ipv4_pool": [3],
               "domain": "vps1234.example.net"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let created: Value = created.json().await.unwrap();
    assert!(
        created["id"].is_u64() && created["task"].is_u64(),
        "{created}"
    );
    assert_eq!(created["recipe_task_list"], json!([]));

    // The reference's filter, parentheses and quotes unescaped in the URL.
    let url = format!(
        "{}/vm/v3/task?where=((consul_id+EQ+'{}')+AND+(name+EQ+'host_create'))",
        sim.base_url, created["task"]
    );
    let tasks: Value = http
        .get(&url)
        .header("x-xsrf-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tasks["list"].as_array().unwrap().len(), 1, "{tasks}");
    assert_eq!(tasks["list"][0]["name"], "host_create");
    let status = tasks["list"][0]["status"].as_str().unwrap();
    assert!(["pending", "running"].contains(&status), "{status}");

    // Ten minutes later on the simulator clock the task is complete and the host active.
    http.post(sim.url("/_admin/clock/advance"))
        .json(&json!({"seconds": 600}))
        .send()
        .await
        .unwrap();
    let tasks: Value = http
        .get(&url)
        .header("x-xsrf-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tasks["list"][0]["status"], "complete");
    let hosts: Value = http
        .get(format!(
            "{}/vm/v3/host?where=(name+EQ+'cont1234')",
            sim.base_url
        ))
        .header("x-xsrf-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let host = &hosts["list"][0];
    assert_eq!(host["state"], "active");
    assert_eq!(host["account"]["email"], "jane@example.com");
    assert!(
        host["ip4"][0]["ip"]
            .as_str()
            .unwrap()
            .starts_with("203.0.113.")
    );
}

#[tokio::test]
async fn bad_requests_get_the_panel_error_shape() {
    let (sim, http) = start().await;
    let token = token(&sim, &http).await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode)> = vec![
        (
            http.post(sim.url("/vm/v3/host")).body("{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(sim.url("/vm/v3/host"))
                .json(&json!({"name": "x"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(sim.url("/vm/v3/host/101"))
                .json(&json!({"colour": "red"})),
            StatusCode::BAD_REQUEST,
        ),
        (http.get(sim.url("/vm/v3/host/abc")), StatusCode::NOT_FOUND),
        (
            http.get(sim.url("/vm/v3/host/424242")),
            StatusCode::NOT_FOUND,
        ),
        (
            http.get(sim.url("/vm/v3/nothing-here")),
            StatusCode::NOT_FOUND,
        ),
        (
            http.get(format!("{}/vm/v3/host?where=(name+EQ+'x'", sim.base_url)),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.put(sim.url("/vm/v3/host/101")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (request, status) in cases {
        let response = request.header("x-xsrf-token", &token).send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_error_shape(&response.json().await.unwrap());
    }
    let unexpected: Value = http
        .post(sim.url("/vm/v3/account"))
        .header("x-xsrf-token", &token)
        .json(&json!({"email": "a@b.org", "password": "x", "colour": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        unexpected["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("Unexpected property")
    );
}

#[tokio::test]
async fn settings_are_adjustable_over_http() {
    let (sim, http) = start().await;
    let set = http
        .post(sim.url("/_admin/vm6/settings"))
        .json(&json!({"task_ms": 5, "fail_next": {"host_create": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let got: Value = http
        .get(sim.url("/_admin/vm6/settings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["task_ms"], 5);
    assert_eq!(got["fail_next"]["host_create"], 1);
    assert_eq!(got["token_idle_seconds"], 3600);
}

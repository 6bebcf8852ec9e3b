//! The simulator driven by plain HTTP, as the reference's curl examples do (no client layer):
//! the exact JSON and XML shapes of errors and answers.

mod common;

use common::*;
use serde_json::{Value, json};

async fn get(url: String) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(url: String, form: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn bad_password_is_an_auth_error_with_http_200() {
    let sim = start().await;
    let (status, body) = get(sim.url("/ispmgr?func=user&out=json&authinfo=root:wrong")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"doc": {"$func": "user", "$lang": "en", "error": {
            "$type": "auth", "$lang": "en", "msg": {"$": "Invalid username or password"}
        }}})
    );
    // No credentials at all: the same type.
    let (_, body) = get(sim.url("/ispmgr?func=user&out=json")).await;
    assert!(body.contains(r#""$type":"auth""#), "{body}");
}

#[tokio::test]
async fn missing_user_pairs_exactly() {
    let sim = start().await;
    let auth = format!("authinfo={ADMIN}:{PASSWORD}");
    let (status, body) = post(
        sim.url("/ispmgr"),
        &format!("func=user.suspend&elid=ghost&out=json&{auth}"),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"doc": {"$func": "user.suspend", "$lang": "en", "error": {
            "$type": "missed", "$object": "users", "$lang": "en",
            "param": [
                {"$name": "object", "$type": "msg", "$msg": "users", "$": "users"},
                {"$name": "value", "$": "ghost"}
            ],
            "group": {"$": "__object__ '__value__' not found"},
            "msg": {"$": "Users 'ghost' not found"}
        }}})
    );
    let (_, body) = post(
        sim.url("/ispmgr"),
        &format!("func=user.delete&elid=ghost&out=json&{auth}"),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["doc"]["error"]["$type"], "value");
    assert_eq!(v["doc"]["error"]["$object"], "elid");
}

#[tokio::test]
async fn the_cookbook_of_section_9() {
    let sim = start().await;
    let auth = format!("authinfo={ADMIN}:{PASSWORD}");
    let create = format!(
        "out=json&{auth}&func=user.add.finish&sok=ok&name=client42&passwd=Xy7abcdef&fullname=Jane+Doe\
         &preset=basic&limit_quota=1024&limit_webdomains=5&webdomain_name=client42.example\
         &emaildomain_name=client42.example&ipsrc=do_not_assign"
    );
    let (_, body) = post(sim.url("/ispmgr"), &create).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["doc"]["ok"], json!({}), "{body}");
    let (_, body) = post(sim.url("/ispmgr"), &create).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            v["doc"]["error"]["$type"].as_str(),
            v["doc"]["error"]["$object"].as_str()
        ),
        (Some("exists"), Some("user"))
    );
    assert_eq!(
        v["doc"]["error"]["msg"]["$"],
        "User with name 'client42' already exists"
    );
    // value/name for an invalid login (user.add, the alternative create).
    let (_, body) = post(
        sim.url("/ispmgr"),
        &format!("out=json&{auth}&func=user.add&sok=ok&name=Bad!&passwd=Xy7abcdef"),
    )
    .await;
    assert!(
        body.contains(r#""$object":"name""#) && body.contains(r#""$type":"value""#),
        "{body}"
    );

    // Suspend, then the list shows active=off; XML output too.
    let (_, body) = post(
        sim.url("/ispmgr"),
        &format!("{auth}&func=user.suspend&elid=client42&out=json"),
    )
    .await;
    assert_eq!(
        body,
        r#"{"doc":{"$func":"user.suspend","$lang":"en","ok":{}}}"#
    );
    let (_, xml) = post(sim.url("/ispmgr"), &format!("{auth}&func=user&out=xml")).await;
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc"),
        "{xml}"
    );
    // Strict profile: a suspended user is listed without `active`, as some builds do
    // (reference §11); clients read anything but `on` as suspended.
    assert!(
        xml.contains("<name>client42</name>") && !xml.contains("<active>"),
        "{xml}"
    );

    // A form without sok returns the current values.
    let (_, body) = post(
        sim.url("/ispmgr"),
        &format!("{auth}&func=user.edit&elid=client42&out=json"),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["doc"]["limit_quota"]["$"], "1024");
    assert_eq!(v["doc"]["elid"]["$"], "client42");

    // SSO: newkey, then the browser URL (GET) gives a session once.
    let key = "0123456789abcdef0123456789abcdef";
    let (_, body) = post(
        sim.url("/ispmgr"),
        &format!("{auth}&func=session.newkey&username=client42&key={key}&out=json"),
    )
    .await;
    assert!(body.contains(r#""ok":{}"#), "{body}");
    let (_, body) = get(sim.url(&format!(
        "/ispmgr?func=auth&username=client42&key={key}&checkcookie=no&out=json"
    )))
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let session = v["doc"]["auth"]["$id"].as_str().unwrap().to_owned();
    assert_eq!(v["doc"]["auth"]["$level"], "16");
    // The user's session sees its own whoami, and may not list users (access).
    let (_, body) = get(sim.url(&format!("/ispmgr?func=whoami&auth={session}&out=xml"))).await;
    assert!(
        body.contains(r#"<user level="16" name="client42"/>"#),
        "{body}"
    );
    let (_, body) = get(sim.url(&format!("/ispmgr?func=user&auth={session}&out=json"))).await;
    assert!(body.contains(r#""$type":"access""#), "{body}");

    // Licence order + key, XML, as in the cookbook.
    let order = format!(
        "{auth}&out=xml&func=soft.order.param&clicked_button=finish&sok=ok&skipbasket=on\
         &pricelist=55228&period=1&autoprolong=null&ip=203.0.113.10&licname=srv1&remoteid=k8s-ns-srv1"
    );
    let (_, body) = post(sim.url("/manager/billmgr"), &order).await;
    // Where the id goes is the dialect's: `<id>` (the official module reads it, [S4]) or
    // `<item><id>` (jbs reads it, [S26 `BillManager.php`]); reference §11.
    use hostplane::simulator::profile::IdPlacement;
    let id = match sim.sim.dialect().order_id {
        IdPlacement::Id => "<id>1234567</id>",
        IdPlacement::ItemId => "<item><id>1234567</id></item>",
        IdPlacement::IdV => "<id><v>1234567</v></id>",
    };
    assert!(
        body.ends_with(&format!(
            "<doc func=\"soft.order.param\" lang=\"en\"><ok/>{id}</doc>"
        )),
        "{body}"
    );
    let (_, body) = post(
        sim.url("/billmgr"),
        &format!("{auth}&out=xml&func=soft.edit&elid=1234567"),
    )
    .await;
    assert!(
        body.contains("<lickey/>") && body.contains("<expiredate>"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_requests_get_the_panel_shape_never_a_crash() {
    let sim = start().await;
    let auth = format!("authinfo={ADMIN}:{PASSWORD}");
    for (path, form) in [
        ("/ispmgr", String::new()),
        ("/ispmgr", "%%%=&&==".to_owned()),
        ("/ispmgr", format!("{auth}&out=json")),
        (
            "/ispmgr",
            format!("{auth}&out=json&func=user.edit&sok=ok&elid=ghost"),
        ),
        (
            "/ispmgr",
            format!("{auth}&out=json&func=domain.edit&sok=ok&name=x.example&ip=999.1.1.1"),
        ),
        (
            "/vmmgr",
            format!("{auth}&out=json&func=vm.edit&sok=ok&name=v&user=abc"),
        ),
        ("/vmmgr", format!("{auth}&out=json&func=vm.start&elid=abc")),
        (
            "/billmgr",
            format!(
                "{auth}&out=json&func=soft.order.param&sok=ok&skipbasket=on&pricelist=55228&ip=nope"
            ),
        ),
        ("/billmgr", format!("{auth}&out=json&func=soft.edit&elid=")),
        (
            "/billmgr",
            format!("{auth}&out=json&func=service.prolong&sok=ok&elid=1&period=x"),
        ),
        ("/billmgr", format!("{auth}&out=sjson&func=nonsense")),
        (
            "/billmgr",
            format!("{auth}&out=json&func=soft.order.param&sok=ok&pricelist=55228&ip=1.2.3.4"),
        ),
    ] {
        let (status, body) = post(sim.url(path), &form).await;
        assert_eq!(status, 200, "{path} {form}: {body}");
        let doc =
            hostplane::panel::mgr::Node::parse(&body).unwrap_or_else(|e| panic!("{form}: {e}"));
        assert!(doc.error().is_some(), "{path} {form}: {body}");
    }
    let (status, body) = get(sim.url("/no/such/path")).await;
    assert_eq!(status, 404);
    assert!(body.contains(r#""$type":"missed""#), "{body}");
}

/// `isp_template_binds_limits`: a user made with a template keeps the template's value of every
/// limit the template sets, on create and on edit; limits the template leaves out take what is
/// sent. Off (the default), the values sent are stored.
#[tokio::test]
async fn a_template_that_binds_its_limits_overrides_what_is_sent() {
    let sim = start().await;
    let auth = format!("authinfo={ADMIN}:{PASSWORD}&out=json");
    let quota = |sim: &hostplane::simulator::SimHandle, user: &str, limit: &str| {
        sim.sim
            .read(|s| s.ispmgr.users[user].limits.get(limit).cloned())
    };
    let create = |name: &str| {
        format!(
            "{auth}&func=user.add.finish&sok=ok&name={name}&passwd=Str0ng-Pass-1&preset=basic&limit_quota=4096&limit_cpu=50"
        )
    };
    let (status, _) = post(sim.url("/ispmgr"), &create("free1")).await;
    assert_eq!(status, 200);
    assert_eq!(quota(&sim, "free1", "limit_quota").as_deref(), Some("4096"));

    let mut dialect = sim.sim.dialect();
    dialect.isp_template_binds_limits = true;
    sim.sim.set_dialect(dialect);
    post(sim.url("/ispmgr"), &create("bound1")).await;
    assert_eq!(
        quota(&sim, "bound1", "limit_quota").as_deref(),
        Some("1024")
    );
    assert_eq!(
        quota(&sim, "bound1", "limit_cpu").as_deref(),
        Some("50"),
        "basic sets no CPU limit"
    );
    let edit = format!("{auth}&func=user.edit&sok=ok&elid=bound1&limit_quota=8192");
    post(sim.url("/ispmgr"), &edit).await;
    assert_eq!(
        quota(&sim, "bound1", "limit_quota").as_deref(),
        Some("1024")
    );
}

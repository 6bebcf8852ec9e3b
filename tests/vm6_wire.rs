//! Parsing of literal VMmanager 6 bodies shaped as in the reference (§4.2–§4.6, §9) and as
//! the public clients it cites see them, including the variants they disagree on.

use hostplane::panel::vmmanager6::wire::{ErrorBody, List, TokenResponse};
use hostplane::panel::vmmanager6::{
    Account, Host, HostState, Ipv4Address, NewAccount, NewHost, Task, TaskRef, TaskStatus,
};
use secrecy::SecretString;
use serde_json::json;

#[test]
fn token_response_with_string_or_number_id() {
    let t: TokenResponse =
        serde_json::from_str(r#"{"token":"4-8f2c…","id":"4","confirmed":true}"#).unwrap();
    assert_eq!(
        (t.token.as_str(), t.id.as_str(), t.confirmed),
        ("4-8f2c…", "4", Some(true))
    );
    let t: TokenResponse = serde_json::from_str(r#"{"token":"4-x","id":4}"#).unwrap();
    assert_eq!(t.id, "4");
    assert!(!format!("{t:?}").contains("4-x"), "Debug hides the token");
}

#[test]
fn error_body() {
    let e: ErrorBody =
        serde_json::from_str(r#"{"error":{"code":3001,"msg":"Unauthorized","value":{}}}"#).unwrap();
    assert_eq!((e.error.code, e.error.msg.as_str()), (3001, "Unauthorized"));
    let e: ErrorBody = serde_json::from_str(
        r#"{"error":{"code":4000,"msg":"Unexpected property","value":"colour"}}"#,
    )
    .unwrap();
    assert_eq!(e.error.value, json!("colour"));
}

#[test]
fn host_create_answer() {
    let r: TaskRef =
        serde_json::from_str(r#"{"id":77,"task":1488228,"recipe_task_list":[],"recipe_task":0}"#)
            .unwrap();
    assert_eq!((r.id, r.task, r.recipe_task), (77, 1488228, 0));
    let restart: TaskRef =
        serde_json::from_str(r#"{"id":"77","task":"15","start_task":16}"#).unwrap();
    assert_eq!((restart.id, restart.task, restart.start_task), (77, 15, 16));
}

#[test]
fn task_list_of_the_cookbook() {
    let l: List<Task> = serde_json::from_str(
        r#"{"list":[{"id":9,"consul_id":1488228,"name":"host_create","status":"complete"}],"last_notify":31}"#,
    )
    .unwrap();
    assert_eq!(l.last_notify, Some(31));
    assert_eq!(l.list[0].status, TaskStatus::Complete);
    assert_eq!(l.list[0].consul_id, 1488228);
    let statuses: List<Task> = serde_json::from_str(
        r#"{"list":[{"id":1,"status":"fail","output":"disk full"},{"id":2,"status":"running"},
                    {"id":3,"status":"deferred","defer_reason":"host_stop"},{"id":4}]}"#,
    )
    .unwrap();
    let s: Vec<_> = statuses.list.iter().map(|t| t.status.clone()).collect();
    assert_eq!(
        s,
        vec![
            TaskStatus::Fail,
            TaskStatus::InProgress("running".into()),
            TaskStatus::InProgress("deferred".into()),
            TaskStatus::Unknown,
        ]
    );
    assert!(!statuses.list[1].status.is_terminal());
    // An empty list means "not listed yet" (reference §4.4). A missing list is not an empty
    // one: every collection answers `list`, so its absence is an error (read as empty, the
    // lookup of a host after a lost create said "none" and the host was made twice).
    let empty: List<Task> = serde_json::from_str(r#"{"list":[],"last_notify":1}"#).unwrap();
    assert!(empty.list.is_empty());
    assert!(serde_json::from_str::<List<Task>>(r#"{"last_notify":1}"#).is_err());
}

#[test]
fn account_list() {
    let l: List<Account> = serde_json::from_str(
        r#"{"list":[{"id":124,"email":"jane@example.com","state":"active","roles":["@user"],"host_count":2},
                    {"id":"1","email":"admin@example.com","roles":["@admin"]}],"last_notify":5}"#,
    )
    .unwrap();
    assert_eq!(l.list[0].id, 124);
    assert_eq!(l.list[0].host_count, Some(2));
    assert!(!l.list[0].is_admin());
    assert!(l.list[1].is_admin());
}

#[test]
fn host_list_item_and_bare_host() {
    let l: List<Host> = serde_json::from_str(
        r#"{"list":[{"id":77,"name":"cont1234","state":"active","domain":"vps1234.example.net",
            "ip4":[{"ip":"203.0.113.10"},{"id":5,"ip_addr":"203.0.113.11"}],"ip6":[],
            "node":{"id":1,"name":"node1","ip_addr":"10.0.0.1"},"cluster":{"id":1,"name":"kvm"},
            "account":{"id":124,"email":"jane@example.com"},"disk":{"id":901,"disk_mib":20480},
            "cpu_number":2,"ram_mib":2048,"os_name":"Ubuntu 22.04","tags":[],"uptime":5}],
            "last_notify":9}"#,
    )
    .unwrap();
    let host = &l.list[0];
    assert_eq!(host.main_ip(), Some("203.0.113.10"));
    assert_eq!(host.ip4[1].ip, "203.0.113.11");
    assert_eq!(
        host.account.as_ref().unwrap().email.as_deref(),
        Some("jane@example.com")
    );
    assert_eq!(host.node.as_ref().unwrap().name.as_deref(), Some("node1"));
    assert_eq!(host.disk.as_ref().unwrap().disk_mib, 20480);

    // GET /vm/v3/host/{id}: the element alone, node as a bare id.
    let bare: Host = serde_json::from_str(
        r#"{"id":77,"internal_name":"77_cont1234","node":1,"name":"cont1234","state":"stopped",
            "cpu_number":2,"ram_mib":2048,"expand_part":"","net_is_synced":true}"#,
    )
    .unwrap();
    assert_eq!(bare.node.as_ref().unwrap().id, 1);
    assert_eq!(bare.state, HostState::Stopped);
    assert!(bare.main_ip().is_none());
    let odd: Host = serde_json::from_str(r#"{"id":"8","state":"migrating"}"#).unwrap();
    assert_eq!(odd.state, HostState::Other("migrating".into()));
}

#[test]
fn host_ipv4_list_with_either_address_key() {
    let l: List<Ipv4Address> = serde_json::from_str(
        r#"{"list":[{"id":1,"ip_addr":"203.0.113.10","domain":"a.example","gateway":"203.0.113.1",
                     "mask":"255.255.255.0","ippool":3,"family":4},{"id":2,"ip":"203.0.113.11"}]}"#,
    )
    .unwrap();
    assert_eq!(l.list[0].ip_addr, "203.0.113.10");
    assert_eq!(l.list[0].ippool, 3);
    assert_eq!(l.list[1].ip_addr, "203.0.113.11");
}

#[test]
fn request_bodies_leave_out_unset_fields_and_hide_passwords_from_debug() {
    let host = NewHost {
        name: "cont1234".into(),
        password: SecretString::from("S3cret!"),
        cluster: 1,
        os: 8211,
        cpu_number: 2,
        ram_mib: 2048,
        hdd_mib: 20480,
        account: 124,
        ipv4_number: 1,
        ipv4_pool: vec![3],
        domain: Some("vps1234.example.net".into()),
        comment: None,
        node: None,
        net_bandwidth_mbitps: None,
        recipe: None,
        recipe_params: vec![],
        send_email_mode: None,
    };
    assert_eq!(
        serde_json::to_value(&host).unwrap(),
        json!({"name":"cont1234","password":"S3cret!","cluster":1,"os":8211,"cpu_number":2,
               "ram_mib":2048,"hdd_mib":20480,"account":124,"ipv4_number":1,"ipv4_pool":[3],
               "domain":"vps1234.example.net"})
    );
    assert!(!format!("{host:?}").contains("S3cret!"));
    let account = NewAccount {
        email: "jane@example.com".into(),
        password: SecretString::from("Pw-123"),
        role: "@user".into(),
    };
    assert_eq!(
        serde_json::to_value(&account).unwrap(),
        json!({"email":"jane@example.com","password":"Pw-123","role":"@user"})
    );
    assert!(!format!("{account:?}").contains("Pw-123"));
}

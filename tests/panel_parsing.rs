//! Parsing tests on literal bodies shaped as in the reference (§1.6–§1.8, §5.2, §9): the
//! tolerant reader must accept every shape clients have observed, in JSON and in XML.

use hostplane::panel::PanelError;
use hostplane::panel::mgr::{MgrErrorBody, Node};

#[test]
fn list_in_json_as_in_section_1_7() {
    let body = r#"{"doc": {
      "elem": [
        {"name": {"$": "client42"}, "fullname": {"$": "Jane Doe"}, "active": {"$": "on"},
         "quota_total": {"$": "1024"}, "quota_used": {"$": "12"}}
      ]
    }}"#;
    let doc = Node::parse(body).unwrap();
    let rows: Vec<&Node> = doc.elems().collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get("name"), "client42");
    assert_eq!(rows[0].get("fullname"), "Jane Doe");
    assert_eq!(rows[0].get("quota_used"), "12");
}

#[test]
fn list_in_xml_as_in_section_1_7() {
    let doc = Node::parse("<doc><elem><name>client42</name><active>on</active></elem><elem><name>b</name></elem></doc>")
        .unwrap();
    let names: Vec<&str> = doc.elems().map(|e| e.get("name")).collect();
    assert_eq!(names, ["client42", "b"]);
    assert_eq!(doc.elems().next().unwrap().get("active"), "on");
}

#[test]
fn values_as_wrapped_bare_or_one_element_lists() {
    let body = r#"{"doc": {"elem": {"name": "bare", "id": [{"$": "7"}], "balance": [{"$": "10.50"}],
        "level": 16, "note": {"$": "wrapped"}, "empty": {}}}}"#;
    let doc = Node::parse(body).unwrap();
    // `elem` as a single object, not a list.
    let rows: Vec<&Node> = doc.elems().collect();
    assert_eq!(rows.len(), 1);
    let e = rows[0];
    assert_eq!(e.get("name"), "bare");
    assert_eq!(e.get("id"), "7");
    assert_eq!(e.get("balance"), "10.50");
    assert_eq!(e.get("level"), "16");
    assert_eq!(e.get("note"), "wrapped");
    assert_eq!(e.value("empty"), Some(""));
    assert_eq!(e.value("absent"), None);
}

#[test]
fn sjson_style_one_element_list_rows() {
    // `elem[0].balance[0].$`, as one client reads sjson.
    let doc =
        Node::parse(r#"{"doc":{"elem":[{"balance":[{"$":"99.00"}],"id":[{"$":"1"}]}]}}"#).unwrap();
    assert_eq!(doc.elems().next().unwrap().get("balance"), "99.00");
}

#[test]
fn form_view_values_are_children_of_doc() {
    let doc = Node::parse("<doc><elid>basic</elid><limit_quota>1024</limit_quota><limit_webdomains>5</limit_webdomains></doc>")
        .unwrap();
    assert_eq!(doc.get("elid"), "basic");
    let limits: Vec<&str> = doc
        .children
        .iter()
        .filter(|(n, _)| n.starts_with("limit_"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(limits, ["limit_quota", "limit_webdomains"]);
}

#[test]
fn ok_in_every_shape() {
    for body in [
        r#"{"doc":{"ok":{}}}"#,
        r#"{"doc":{"ok":{"$":""}}}"#,
        r#"{"doc":{"ok":""}}"#,
        "<doc><ok/></doc>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>\n  <ok/>\n</doc>\n",
    ] {
        let doc = Node::parse(body).unwrap();
        assert!(doc.is_ok(), "{body}");
        assert!(doc.error().is_none(), "{body}");
    }
}

#[test]
fn ids_of_creates_and_orders() {
    assert_eq!(
        Node::parse("<doc><id>1234567</id></doc>")
            .unwrap()
            .get("id"),
        "1234567"
    );
    assert_eq!(
        Node::parse(r#"{"doc":{"ok":{},"id":{"$":"77"}}}"#)
            .unwrap()
            .get("id"),
        "77"
    );
}

#[test]
fn session_id_from_auth_in_both_encodings() {
    let xml = Node::parse(r#"<doc><auth id="SESS1" level="16">SESS1</auth></doc>"#).unwrap();
    assert_eq!(xml.child("auth").unwrap().attr("id"), Some("SESS1"));
    let json =
        Node::parse(r#"{"doc":{"auth":{"$id":"SESS2","$level":"16","$":"SESS2"}}}"#).unwrap();
    let auth = json.child("auth").unwrap();
    assert_eq!(
        (auth.attr("id"), auth.attr("level"), auth.text.as_str()),
        (Some("SESS2"), Some("16"), "SESS2")
    );
}

#[test]
fn whoami_attributes() {
    let doc = Node::parse(r#"<doc><user name="root" level="30"/></doc>"#).unwrap();
    assert_eq!(doc.child("user").unwrap().value("name"), Some("root"));
}

#[test]
fn error_in_xml_as_in_section_1_8() {
    let body = r#"<doc>
  <error type="exists" object="user" lang="en">
    <param name="object" type="msg" msg="user">user</param>
    <param name="value">client42</param>
    <msg>User 'client42' already exists</msg>
  </error>
</doc>"#;
    let doc = Node::parse(body).unwrap();
    let err = doc.error().unwrap();
    assert_eq!(
        err,
        MgrErrorBody {
            kind: "exists".into(),
            object: "user".into(),
            message: "User 'client42' already exists".into()
        }
    );
    let params: Vec<&str> = doc
        .child("error")
        .unwrap()
        .all("param")
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(params, ["user", "client42"]);
}

#[test]
fn error_in_json_as_in_section_1_8() {
    let body = r#"{"doc": {"error": {
      "$type": "exists", "$object": "user", "$lang": "en",
      "param": [{"$name": "object", "$type": "msg", "$msg": "user", "$": "user"}, {"$name": "value", "$": "client42"}],
      "group": {"$": "__object__ with '__value__' already exists"},
      "msg": {"$": "User with name 'client42' already exists"},
      "detail": {"$": "…"}
    }}}"#;
    let err = Node::parse(body).unwrap().error().unwrap();
    let mapped = PanelError::from_mgr(&err.kind, &err.object, &err.message);
    assert_eq!(
        mapped,
        PanelError::Exists {
            object: "user".into(),
            message: "User with name 'client42' already exists".into()
        }
    );
}

#[test]
fn every_error_type_maps_and_unknown_ones_are_kept_verbatim() {
    let cases = [
        ("exists", "user"),
        ("exist", "domain"),
        ("missed", "users"),
        ("value", "elid"),
        ("value", "name"),
        ("auth", ""),
        ("access", "user"),
        ("client", "balance"),
        ("weird_new_type", "thing"),
    ];
    for (kind, object) in cases {
        let body = format!(
            r#"{{"doc":{{"error":{{"$type":"{kind}","$object":"{object}","msg":{{"$":"m-{kind}"}}}}}}}}"#
        );
        let err = Node::parse(&body).unwrap().error().unwrap();
        let mapped = PanelError::from_mgr(&err.kind, &err.object, &err.message);
        let expected_kind = if kind == "exist" { "exists" } else { kind };
        assert_eq!(mapped.mgr_kind(), Some(expected_kind), "{mapped:?}");
        assert!(
            mapped.to_string().contains(&format!("m-{kind}")),
            "{mapped}"
        );
        if kind != "auth" {
            assert_eq!(mapped.mgr_object(), Some(object));
        }
    }
    let other = PanelError::from_mgr("weird_new_type", "thing", "said so");
    assert_eq!(
        other,
        PanelError::Other {
            kind: "weird_new_type".into(),
            object: "thing".into(),
            message: "said so".into()
        }
    );
}

#[test]
fn license_view_with_late_key_and_nested_prolong_answer() {
    let view = Node::parse(
        "<doc><lickey></lickey><expiredate>2026-09-01</expiredate><status>5</status></doc>",
    )
    .unwrap();
    assert_eq!(view.get("lickey"), "");
    let prolonged =
        Node::parse("<doc><doc><newexpiredate>2026-10-01</newexpiredate></doc></doc>").unwrap();
    assert_eq!(
        prolonged.child("doc").unwrap().get("newexpiredate"),
        "2026-10-01"
    );
}

#[test]
fn entities_cdata_and_garbage() {
    let doc = Node::parse("<doc><msg>a &amp; b &#x263A; <![CDATA[<raw>]]></msg></doc>").unwrap();
    assert_eq!(doc.get("msg"), "a & b ☺ <raw>");
    assert!(Node::parse("<html><body>502 Bad Gateway").is_err());
    assert!(Node::parse("Bad Gateway").is_err());
    assert!(Node::parse("").is_err());
    assert!(Node::parse("{\"doc\":").is_err());
}

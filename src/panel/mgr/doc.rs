//! The mgr document: one tree for both `out=json` and `out=xml`, parsed tolerantly.
//!
//! Why one tree: the JSON output is the XML mapped 1:1 (reference §1.6), and clients in the
//! wild disagree on its details: a value may come as `{"$":"v"}`, as `"v"` or as
//! `[{"$":"v"}]`, and `elem` as a list or as one object. Reading both encodings into the same
//! [`Node`] makes every accessor tolerant once. The simulator renders the same tree, so both
//! sides speak one model; the literal-body tests in `tests/` keep that model honest.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// One element: attributes, text, and children in document order (names may repeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub attrs: BTreeMap<String, String>,
    pub text: String,
    pub children: Vec<(String, Node)>,
}

/// The error carried in `doc.error`, as the panel sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MgrErrorBody {
    pub kind: String,
    pub object: String,
    pub message: String,
}

impl Node {
    /// A node holding only text (`<name>client42</name>`).
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Appends a child.
    pub fn push(&mut self, name: impl Into<String>, child: Node) -> &mut Self {
        self.children.push((name.into(), child));
        self
    }

    /// Appends a text child (`<name>value</name>`).
    pub fn push_text(&mut self, name: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.push(name, Node::text(text))
    }

    /// Sets an attribute (`$name` in JSON).
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.attrs.insert(name.into(), value.into());
        self
    }

    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    /// Every child with this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, c)| c)
    }

    /// The rows of a list function (`elem`, whether one or many).
    pub fn elems(&self) -> impl Iterator<Item = &Node> + '_ {
        self.all("elem")
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// A field's value: the text of the child `name`, else the attribute `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        match self.child(name) {
            Some(c) => Some(c.text.as_str()),
            None => self.attr(name),
        }
    }

    /// A field's value, with an empty string for a missing field.
    pub fn get(&self, name: &str) -> &str {
        self.value(name).unwrap_or("")
    }

    /// Whether the document reports success (`<ok/>`, in any JSON shape).
    pub fn is_ok(&self) -> bool {
        self.child("ok").is_some()
    }

    /// The `<error>` of the document, if any.
    pub fn error(&self) -> Option<MgrErrorBody> {
        let e = self.child("error")?;
        let message = match e.child("msg") {
            Some(m) => m.text.clone(),
            None => e.text.clone(),
        };
        Some(MgrErrorBody {
            kind: e.attr("type").or(e.attr("code")).unwrap_or("").to_owned(),
            object: e.attr("object").unwrap_or("").to_owned(),
            message,
        })
    }

    // ---- parsing ----

    /// Parses a panel answer, JSON or XML, by its first character; returns the `doc` node.
    pub fn parse(body: &str) -> Result<Node, String> {
        match body.trim_start().chars().next() {
            Some('{') => Self::from_json(body),
            Some('<') => Self::from_xml(body),
            Some(_) => Err(format!("neither JSON nor XML: {}", snippet(body))),
            None => Err("empty body".to_owned()),
        }
    }

    /// Parses `{"doc":{…}}` (a body without the `doc` wrapper is taken as the doc itself).
    pub fn from_json(body: &str) -> Result<Node, String> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| format!("invalid JSON ({e}): {}", snippet(body)))?;
        let Value::Object(mut top) = value else {
            return Err(format!("JSON is not an object: {}", snippet(body)));
        };
        match top.remove("doc") {
            Some(doc) => Ok(json_node(&doc)),
            None => Ok(json_node(&Value::Object(top))),
        }
    }

    /// Parses `<?xml …?><doc>…</doc>`; returns the root element.
    pub fn from_xml(body: &str) -> Result<Node, String> {
        let mut reader = Reader::from_str(body);
        let mut stack: Vec<(String, Node)> = Vec::new();
        let mut root: Option<Node> = None;
        let fail = |e: &dyn std::fmt::Display| format!("invalid XML ({e}): {}", snippet(body));
        loop {
            match reader.read_event().map_err(|e| fail(&e))? {
                Event::Start(e) => {
                    let node = xml_attrs(&e).map_err(|e| fail(&e))?;
                    stack.push((e.name().as_ref().to_owned(), node));
                }
                Event::Empty(e) => {
                    let node = xml_attrs(&e).map_err(|e| fail(&e))?;
                    let name = e.name().as_ref().to_owned();
                    match stack.last_mut() {
                        Some((_, parent)) => {
                            parent.push(name, node);
                        }
                        None => root = Some(node),
                    }
                }
                Event::Text(t) => {
                    if let Some((_, node)) = stack.last_mut() {
                        node.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some((_, node)) = stack.last_mut() {
                        node.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().map_err(|e| fail(&e))? {
                        Some(c) => c.to_string(),
                        None => {
                            let name = r.xml10_content();
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| fail(&format!("unknown entity &{name};")))?
                                .to_owned()
                        }
                    };
                    if let Some((_, node)) = stack.last_mut() {
                        node.text.push_str(&resolved);
                    }
                }
                Event::End(_) => {
                    let (name, mut node) =
                        stack.pop().ok_or_else(|| fail(&"unbalanced end tag"))?;
                    if !node.children.is_empty() && node.text.trim().is_empty() {
                        node.text.clear();
                    }
                    match stack.last_mut() {
                        Some((_, parent)) => {
                            parent.push(name, node);
                        }
                        None => root = Some(node),
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !stack.is_empty() {
            return Err(fail(&"unclosed element"));
        }
        root.ok_or_else(|| fail(&"no root element"))
    }

    // ---- rendering (the simulator's side) ----

    /// `{"doc": …}` as the panel's `out=json`.
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        top.insert("doc".to_owned(), node_json(self));
        Value::Object(top)
    }

    /// `<?xml …?><doc …>…</doc>` as the panel's `out=xml`.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        write_xml(&mut out, "doc", self);
        out
    }
}

fn snippet(body: &str) -> String {
    let s: String = body.chars().take(120).collect();
    if body.chars().count() > 120 {
        format!("{s}…")
    } else {
        s
    }
}

fn json_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(m) => m.get("$").map(json_scalar).unwrap_or_default(),
        Value::Array(items) => items.first().map(json_scalar).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn json_node(v: &Value) -> Node {
    match v {
        Value::Object(map) => {
            let mut node = Node::default();
            for (key, value) in map {
                if key == "$" {
                    node.text = json_scalar(value);
                } else if let Some(attr) = key.strip_prefix('$') {
                    node.attrs.insert(attr.to_owned(), json_scalar(value));
                } else {
                    push_json_children(&mut node, key, value);
                }
            }
            node
        }
        Value::Array(items) => items.first().map(json_node).unwrap_or_default(),
        other => Node::text(json_scalar(other)),
    }
}

/// A list becomes repeated children of one name, however deeply it is nested.
fn push_json_children(node: &mut Node, key: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                push_json_children(node, key, item);
            }
        }
        other => {
            node.push(key, json_node(other));
        }
    }
}

fn xml_attrs(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, quick_xml::Error> {
    let mut node = Node::default();
    for attr in e.attributes() {
        let attr = attr.map_err(quick_xml::Error::from)?;
        let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)?;
        node.attrs
            .insert(attr.key.as_ref().to_owned(), value.into_owned());
    }
    Ok(node)
}

fn node_json(node: &Node) -> Value {
    if node.attrs.is_empty() && node.children.is_empty() {
        let mut m = Map::new();
        if !node.text.is_empty() {
            m.insert("$".to_owned(), Value::String(node.text.clone()));
        }
        return Value::Object(m);
    }
    let mut m = Map::new();
    for (k, v) in &node.attrs {
        m.insert(format!("${k}"), Value::String(v.clone()));
    }
    if !node.text.is_empty() {
        m.insert("$".to_owned(), Value::String(node.text.clone()));
    }
    let mut order: Vec<&str> = Vec::new();
    for (name, _) in &node.children {
        if !order.contains(&name.as_str()) {
            order.push(name);
        }
    }
    for name in order {
        let items: Vec<Value> = node.all(name).map(node_json).collect();
        // `elem` is always a list, as every client expects; other repeated names too.
        let value = if items.len() == 1 && name != "elem" {
            items.into_iter().next().expect("one item")
        } else {
            Value::Array(items)
        };
        m.insert(name.to_owned(), value);
    }
    Value::Object(m)
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    use quick_xml::escape::escape;
    out.push('<');
    out.push_str(name);
    for (k, v) in &node.attrs {
        out.push_str(&format!(" {k}=\"{}\"", escape(v.as_str())));
    }
    if node.children.is_empty() && node.text.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    out.push_str(&escape(node.text.as_str()));
    for (child_name, child) in &node.children {
        write_xml(out, child_name, child);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_then_parse_round_trips_in_both_encodings() {
        let mut doc = Node::default();
        doc.set_attr("lang", "en");
        let mut e = Node::default();
        e.push_text("name", "client42").push_text("note", "a & <b>");
        doc.push("elem", e);
        doc.push("ok", Node::default());
        let json = doc.to_json().to_string();
        assert_eq!(Node::parse(&json).unwrap(), doc);
        let xml = doc.to_xml();
        assert_eq!(Node::parse(&xml).unwrap(), doc, "{xml}");
        assert!(json.contains(r#""elem":[{"#), "{json}");
        assert!(json.contains(r#""ok":{}"#), "{json}");
    }
}

//! The API server's request counters (`apiserver_request_total`), read before and after each phase.

use super::*;

/// `apiserver_request_total` summed by verb, resource (with subresource) and whether it failed.
#[derive(Clone, Debug, Default)]
pub(super) struct Requests(pub(super) BTreeMap<(String, String, bool), u64>);

pub(super) const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "DELETECOLLECTION",
    "APPLY",
];

impl Requests {
    pub(super) fn parse(text: &str) -> anyhow::Result<Requests> {
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let (labels, value) =
                split_labels(rest).with_context(|| format!("unreadable metric line {line:?}"))?;
            let value: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("unreadable metric value in {line:?}"))?;
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let mut resource = label("resource");
            if resource.is_empty() {
                continue; // non-resource URLs (/metrics, /readyz, discovery)
            }
            let sub = label("subresource");
            if !sub.is_empty() {
                resource = format!("{resource}/{sub}");
            }
            let failed = !label("code").starts_with('2');
            *out.entry((label("verb"), resource, failed)).or_default() += value as u64;
        }
        if out.is_empty() {
            bail!("the API server's /metrics holds no apiserver_request_total");
        }
        Ok(Requests(out))
    }

    /// What happened between `before` and `self`.
    pub(super) fn since(&self, before: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0).min(*v)))
                .filter(|(_, v)| *v > 0)
                .collect(),
        )
    }

    /// Takes `n` successful `verb`s on `resource` out (the bench's own requests).
    pub(super) fn without(mut self, verb: &str, resource: &str, n: u64) -> Requests {
        let key = (verb.to_owned(), resource.to_owned(), false);
        if let Some(v) = self.0.get_mut(&key) {
            *v = v.saturating_sub(n);
        }
        self.0.retain(|_, v| *v > 0);
        self
    }

    pub(super) fn writes(&self) -> impl Iterator<Item = (&(String, String, bool), &u64)> {
        self.0
            .iter()
            .filter(|((verb, _, _), _)| WRITE_VERBS.contains(&verb.as_str()))
    }

    pub(super) fn write_total(&self) -> u64 {
        self.writes().map(|(_, v)| v).sum()
    }

    pub(super) fn failed_writes(&self) -> u64 {
        self.writes()
            .filter(|((_, _, f), _)| *f)
            .map(|(_, v)| v)
            .sum()
    }

    pub(super) fn writes_to(&self, resource: &str) -> u64 {
        self.writes()
            .filter(|((_, r, _), _)| r == resource)
            .map(|(_, v)| v)
            .sum()
    }

    /// `GET`s (single objects) by resource.
    pub(super) fn gets(&self) -> u64 {
        self.0
            .iter()
            .filter(|((verb, _, _), _)| verb == "GET")
            .map(|(_, v)| v)
            .sum()
    }

    /// `verb resource` → count, writes only, failed ones marked.
    pub(super) fn write_lines(&self) -> Vec<(String, u64)> {
        self.writes()
            .map(|((verb, resource, failed), v)| {
                let mark = if *failed { " (failed)" } else { "" };
                (format!("{verb} {resource}{mark}"), *v)
            })
            .collect()
    }
}

/// Splits `k="v",k2="v2"} 12` into the labels and the value text.
pub(super) fn split_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut chars = s.char_indices();
    loop {
        let (start, c) = chars.next()?;
        if c == '}' {
            return Some((labels, &s[start + 1..]));
        }
        if c == ',' {
            continue;
        }
        let mut key = String::from(c);
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '\\' => value.push(chars.next()?.1),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
    }
}

pub(super) async fn scrape(client: &kube::Client) -> anyhow::Result<Requests> {
    let request = kube::core::Request::new("/metrics").list(&ListParams::default())?;
    let text = client
        .request_text(request)
        .await
        .context("reading the kube-apiserver's /metrics")?;
    Requests::parse(&text)
}

//! Does the one-time login link of the connection Secret log the customer in? One GET of the
//! link, redirects not followed (the panel's UI behind it is not entered), judged by the
//! answer: a session (the mgr `auth` answer, or a cookie), or a redirect into the panel, is a
//! login; an `error` answer, the login form or anything else is not.
//!
//! The link carries a one-time key (reference §2.9): neither the link nor the key is ever
//! printed, logged or put into an error (reqwest's errors name the URL, so they are stripped
//! of it). The key is used up by the check, as a customer's click would use it.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::panel::transport::{HttpOptions, http_client};

/// What came back for the link, reduced to what the verdict needs (no header values, no URL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginAnswer {
    pub status: u16,
    /// The redirect target's path and query names (values dropped: they may carry a session).
    pub redirect: Option<String>,
    pub sets_cookie: bool,
    /// The body's first 64 KiB as text.
    pub body: String,
}

/// The verdict on a login answer: `Ok(what)` logged in, `Err(what)` not.
pub fn judge(answer: &LoginAnswer) -> Result<String, String> {
    let status = answer.status;
    if let Some(error) = panel_error(&answer.body) {
        return Err(format!("refused (HTTP {status}): {error}"));
    }
    if (300..400).contains(&status) {
        return match &answer.redirect {
            Some(to) if to.contains("logon") || to.contains("error") => Err(format!(
                "sent back to the login page (HTTP {status} to {to})"
            )),
            Some(to) => Ok(format!("redirected into the panel (HTTP {status} to {to})")),
            None => Err(format!("HTTP {status} without a Location")),
        };
    }
    if (200..300).contains(&status) {
        let body = answer.body.to_ascii_lowercase();
        if body.contains("<auth") || body.contains("\"auth\"") {
            return Ok(format!("a panel session (HTTP {status})"));
        }
        if body.contains("type=\"password\"") || body.contains("func=logon") {
            return Err(format!("the panel's login form (HTTP {status})"));
        }
        if answer.sets_cookie {
            return Ok(format!("a session cookie (HTTP {status})"));
        }
        return Err(format!(
            "an answer that is neither a session nor a redirect (HTTP {status})"
        ));
    }
    Err(format!("HTTP {status}"))
}

/// The panel's error text in an mgr answer (`<error type=… ><msg>…</msg>` or JSON `error`).
fn panel_error(body: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        let error = json.get("doc").unwrap_or(&json).get("error")?;
        let msg = error
            .get("msg")
            .and_then(|m| m.get("$").or(Some(m)))
            .and_then(|m| m.as_str())
            .unwrap_or("error");
        return Some(msg.to_owned());
    }
    let start = body.find("<error")?;
    let rest = &body[start..];
    let msg = rest
        .find("<msg>")
        .and_then(|i| rest[i + 5..].split("</msg>").next())
        .unwrap_or("error");
    Some(msg.trim().to_owned())
}

/// The path and the query's parameter names of a redirect target, without values.
fn redacted(location: &str, base: &reqwest::Url) -> String {
    match base.join(location) {
        Ok(url) => {
            let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            if names.is_empty() {
                url.path().to_owned()
            } else {
                format!("{}?{}", url.path(), names.join("&"))
            }
        }
        Err(_) => "an unreadable Location".to_owned(),
    }
}

/// Sends the one GET. `accept_invalid_certs` and `ca_pem` follow the module's TLS settings.
pub async fn probe(
    link: &SecretString,
    accept_invalid_certs: bool,
    ca_pem: Option<Vec<u8>>,
) -> Result<LoginAnswer, String> {
    let url = reqwest::Url::parse(link.expose_secret())
        .map_err(|_| "the connection Secret's loginUrl is not a URL".to_owned())?;
    let http = http_client(&HttpOptions {
        timeout: Duration::from_secs(20),
        accept_invalid_certs,
        ca_pem,
        ..HttpOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("no answer: {}", e.without_url()))?;
    let status = response.status().as_u16();
    let redirect = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| redacted(l, &url));
    let sets_cookie = response.headers().contains_key(reqwest::header::SET_COOKIE);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {}", e.without_url()))?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
    Ok(LoginAnswer {
        status,
        redirect,
        sets_cookie,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> LoginAnswer {
        LoginAnswer {
            status,
            body: body.into(),
            ..LoginAnswer::default()
        }
    }

    #[test]
    fn a_session_or_a_redirect_into_the_panel_is_a_login() {
        let xml = r#"<?xml version="1.0"?><doc><auth id="s1" level="16">s1</auth></doc>"#;
        assert_eq!(
            judge(&answer(200, xml)),
            Ok("a panel session (HTTP 200)".into())
        );
        let json = r#"{"doc":{"auth":{"$id":"s1","$":"s1"}}}"#;
        assert!(judge(&answer(200, json)).is_ok());
        let mut redirect = answer(302, "");
        redirect.redirect = Some("/ispmgr".into());
        assert_eq!(
            judge(&redirect),
            Ok("redirected into the panel (HTTP 302 to /ispmgr)".into())
        );
        let mut cookie = answer(200, "<html>welcome</html>");
        cookie.sets_cookie = true;
        assert!(judge(&cookie).is_ok());
    }

    #[test]
    fn an_error_the_login_form_or_anything_else_is_not() {
        let xml =
            r#"<doc><error type="auth" object=""><msg>Invalid or expired key</msg></error></doc>"#;
        assert_eq!(
            judge(&answer(200, xml)),
            Err("refused (HTTP 200): Invalid or expired key".into())
        );
        let json = r#"{"doc":{"error":{"$type":"auth","msg":{"$":"Invalid or expired key"}}}}"#;
        assert_eq!(
            judge(&answer(200, json)),
            Err("refused (HTTP 200): Invalid or expired key".into())
        );
        let form = r#"<form><input name="password" type="password"></form>"#;
        assert!(
            judge(&answer(200, form))
                .unwrap_err()
                .contains("login form")
        );
        let mut back = answer(302, "");
        back.redirect = Some("/ispmgr?func=logon".into());
        assert!(judge(&back).unwrap_err().contains("login page"));
        assert_eq!(judge(&answer(503, "")), Err("HTTP 503".into()));
        assert!(judge(&answer(200, "hello")).is_err());
    }

    #[test]
    fn a_redirect_target_keeps_no_values() {
        let base =
            reqwest::Url::parse("https://panel.example:1500/ispmgr?func=auth&key=k").unwrap();
        assert_eq!(
            redacted("/ispmgr?auth=SESSION&func=desktop", &base),
            "/ispmgr?auth&func"
        );
    }
}

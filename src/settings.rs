//! What the agent configures on the options page, and its validation.

use serde::{Deserialize, Serialize};

/// The reference server that `cargo xtask run` starts; the extension's out-of-the-box default.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8700";

/// Longest agent name we accept (Genesys user names are far shorter).
pub const MAX_AGENT_NAME_CHARS: usize = 128;

/// Longest server URL we accept.
pub const MAX_SERVER_URL_CHARS: usize = 2048;

/// Non-secret settings, stored in `storage.local` under [`crate::storage_keys::SETTINGS`].
/// Credentials never live here: they belong in `storage.session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Base URL of the chat server, e.g. `http://127.0.0.1:8700` (no trailing slash).
    pub server_url: String,
    /// The agent's user name on that server.
    pub agent_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: DEFAULT_SERVER_URL.to_owned(),
            agent_name: String::new(),
        }
    }
}

/// Why settings were refused. Messages are keys into `_locales` plus their detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the server URL must start with http:// or https://")]
    UnsupportedScheme,
    #[error("the server URL has no host")]
    MissingHost,
    #[error("the server URL must not carry a user name, password, query or fragment")]
    UnexpectedUrlPart,
    #[error("the server URL is not valid: {0}")]
    Malformed(&'static str),
    #[error("the server URL is too long")]
    UrlTooLong,
    #[error("the agent name is empty")]
    EmptyAgentName,
    #[error("the agent name is too long")]
    AgentNameTooLong,
    #[error("the agent name contains control characters")]
    AgentNameControlChars,
    #[error("your administrator set the server URL; it cannot be changed here")]
    ServerUrlLocked,
}

impl SettingsError {
    /// The `_locales` message name that explains this error to a person.
    pub fn message_key(&self) -> &'static str {
        match self {
            SettingsError::UnsupportedScheme => "errorUrlScheme",
            SettingsError::MissingHost
            | SettingsError::UnexpectedUrlPart
            | SettingsError::Malformed(_)
            | SettingsError::UrlTooLong => "errorUrlInvalid",
            SettingsError::EmptyAgentName => "errorAgentNameEmpty",
            SettingsError::ServerUrlLocked => "errorServerUrlLocked",
            SettingsError::AgentNameTooLong | SettingsError::AgentNameControlChars => {
                "errorAgentNameInvalid"
            }
        }
    }
}

/// A parsed `http(s)://host[:port][/path]` server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub scheme: &'static str,
    /// Host as written, lower-cased (`[::1]` keeps its brackets).
    pub host: String,
    pub port: Option<u16>,
    /// Path without trailing slash; empty for the root.
    pub path: String,
}

impl ServerUrl {
    pub fn parse(input: &str) -> Result<ServerUrl, SettingsError> {
        let input = input.trim();
        if input.len() > MAX_SERVER_URL_CHARS {
            return Err(SettingsError::UrlTooLong);
        }
        let (scheme, rest) = if let Some(rest) = strip_prefix_ci(input, "https://") {
            ("https", rest)
        } else if let Some(rest) = strip_prefix_ci(input, "http://") {
            ("http", rest)
        } else {
            return Err(SettingsError::UnsupportedScheme);
        };
        if rest.contains(['?', '#', '@']) {
            return Err(SettingsError::UnexpectedUrlPart);
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SettingsError::Malformed("whitespace"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(SettingsError::MissingHost);
        }
        let host_ok = if host.starts_with('[') {
            host.ends_with(']')
                && host.len() > 2
                && host[1..host.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        } else {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !host.starts_with(['.', '-'])
        };
        if !host_ok {
            return Err(SettingsError::Malformed("host"));
        }
        Ok(ServerUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_owned(),
        })
    }

    /// `scheme://host[:port]`: the web origin of the server.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{}", self.scheme, self.host, p),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The host-permission match pattern for this server (`scheme://host/*`; match patterns
    /// cannot name a port, so the pattern covers every port of that host).
    pub fn host_permission_pattern(&self) -> String {
        format!("{}://{}/*", self.scheme, self.host)
    }

    /// The normalised form stored in [`Settings::server_url`].
    pub fn normalized(&self) -> String {
        format!("{}{}", self.origin(), self.path)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), SettingsError> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => {
                let after = &authority[i + 1..];
                match after.strip_prefix(':') {
                    Some(p) => (&authority[..=i], Some(p)),
                    None if after.is_empty() => (authority, None),
                    None => return Err(SettingsError::Malformed("host")),
                }
            }
            None => return Err(SettingsError::Malformed("host")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(SettingsError::Malformed("port"))?,
        ),
    };
    Ok((host, port))
}

impl Settings {
    /// Checks and normalises settings as typed by a person; what is stored is always the output.
    pub fn validated(&self) -> Result<Settings, SettingsError> {
        let server = ServerUrl::parse(&self.server_url)?;
        let agent_name = self.agent_name.trim();
        if agent_name.is_empty() {
            return Err(SettingsError::EmptyAgentName);
        }
        if agent_name.chars().count() > MAX_AGENT_NAME_CHARS {
            return Err(SettingsError::AgentNameTooLong);
        }
        if agent_name.chars().any(char::is_control) {
            return Err(SettingsError::AgentNameControlChars);
        }
        Ok(Settings {
            server_url: server.normalized(),
            agent_name: agent_name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, name: &str) -> Settings {
        Settings {
            server_url: url.into(),
            agent_name: name.into(),
        }
    }

    #[test]
    fn valid_settings_are_normalised() {
        let s = settings("  HTTP://Example.COM:8080/gws/  ", " agent1 ")
            .validated()
            .unwrap();
        assert_eq!(s.server_url, "http://example.com:8080/gws");
        assert_eq!(s.agent_name, "agent1");
    }

    #[test]
    fn ipv6_and_default_port_forms_parse() {
        let u = ServerUrl::parse("https://[::1]:8443").unwrap();
        assert_eq!(u.origin(), "https://[::1]:8443");
        assert_eq!(u.host_permission_pattern(), "https://[::1]/*");
        let u = ServerUrl::parse("http://127.0.0.1").unwrap();
        assert_eq!(u.port, None);
        assert_eq!(u.normalized(), "http://127.0.0.1");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        use SettingsError::*;
        let cases = [
            ("ftp://x", UnsupportedScheme),
            ("javascript:alert(1)", UnsupportedScheme),
            ("http://", MissingHost),
            ("http://:80", MissingHost),
            ("http://user:pw@host", UnexpectedUrlPart),
            ("http://host/?q=1", UnexpectedUrlPart),
            ("http://host#x", UnexpectedUrlPart),
            ("http://host:0", Malformed("port")),
            ("http://host:99999", Malformed("port")),
            ("http://ho st", Malformed("whitespace")),
            ("http://<script>", Malformed("host")),
            ("http://[::1", Malformed("host")),
        ];
        for (url, want) in cases {
            assert_eq!(ServerUrl::parse(url), Err(want), "{url}");
        }
        let long = format!("http://{}", "a".repeat(MAX_SERVER_URL_CHARS));
        assert_eq!(ServerUrl::parse(&long), Err(UrlTooLong));
    }

    #[test]
    fn bad_agent_names_are_refused() {
        let ok = DEFAULT_SERVER_URL;
        assert_eq!(
            settings(ok, "  ").validated(),
            Err(SettingsError::EmptyAgentName)
        );
        assert_eq!(
            settings(ok, "a\u{7}b").validated(),
            Err(SettingsError::AgentNameControlChars)
        );
        let long = "é".repeat(MAX_AGENT_NAME_CHARS + 1);
        assert_eq!(
            settings(ok, &long).validated(),
            Err(SettingsError::AgentNameTooLong)
        );
        // Multi-byte names count characters, not bytes.
        assert!(settings(ok, &"é".repeat(MAX_AGENT_NAME_CHARS))
            .validated()
            .is_ok());
    }

    #[test]
    fn every_error_has_a_locale_key() {
        for e in [
            SettingsError::UnsupportedScheme,
            SettingsError::EmptyAgentName,
            SettingsError::AgentNameTooLong,
        ] {
            assert!(e.message_key().starts_with("error"));
        }
    }
}

/// What an IT admin set for every desk in managed storage (`storage.managed`: Chrome's
/// `managed_schema`, Firefox's enterprise policies). The agent cannot change it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    /// The chat server every agent uses.
    #[serde(rename = "serverUrl", default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Agents may not use another server than `server_url`.
    #[serde(rename = "serverUrlLocked", default)]
    pub server_url_locked: bool,
    /// Open the co-browse view by itself as soon as a co-browse is verified for a chat.
    #[serde(rename = "cobrowseAutoOpen", default)]
    pub cobrowse_auto_open: bool,
}

impl Policy {
    /// The policy in managed storage's values; a value of the wrong type, or a server URL that
    /// is not valid, is left out (and named in the returned warnings) rather than failing it all.
    pub fn from_managed(
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> (Policy, Vec<String>) {
        let mut warnings = Vec::new();
        let mut flag = |key: &str| match values.get(key) {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(other) => {
                warnings.push(format!("managed {key} is not true or false: {other}"));
                false
            }
        };
        let server_url_locked = flag("serverUrlLocked");
        let cobrowse_auto_open = flag("cobrowseAutoOpen");
        let server_url = match values.get("serverUrl") {
            None => None,
            Some(serde_json::Value::String(url)) => match ServerUrl::parse(url) {
                Ok(u) => Some(u.normalized()),
                Err(e) => {
                    warnings.push(format!("managed serverUrl ignored: {e}"));
                    None
                }
            },
            Some(other) => {
                warnings.push(format!("managed serverUrl is not a string: {other}"));
                None
            }
        };
        let policy = Policy {
            server_url_locked: server_url_locked && server_url.is_some(),
            server_url,
            cobrowse_auto_open,
        };
        (policy, warnings)
    }

    /// The settings a fresh install starts from: the admin's server, if any.
    pub fn default_settings(&self) -> Settings {
        Settings {
            server_url: self
                .server_url
                .clone()
                .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned()),
            agent_name: String::new(),
        }
    }

    /// `settings`, validated, if this policy allows them.
    pub fn allows(&self, settings: &Settings) -> Result<Settings, SettingsError> {
        let settings = settings.validated()?;
        match (&self.server_url, self.server_url_locked) {
            (Some(url), true) if *url != settings.server_url => Err(SettingsError::ServerUrlLocked),
            _ => Ok(settings),
        }
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn a_managed_policy_is_read_leniently_and_locks_the_server() {
        let values = serde_json::json!({
            "serverUrl": "HTTPS://chat.example.com/", "serverUrlLocked": true,
            "cobrowseAutoOpen": "yes"
        });
        let (p, warnings) = Policy::from_managed(values.as_object().unwrap());
        assert_eq!(p.server_url.as_deref(), Some("https://chat.example.com"));
        assert!(p.server_url_locked && !p.cobrowse_auto_open);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let other = Settings {
            server_url: "https://elsewhere.example".into(),
            agent_name: "ann".into(),
        };
        assert_eq!(p.allows(&other), Err(SettingsError::ServerUrlLocked));
        let same = Settings {
            server_url: "https://chat.example.com".into(),
            ..other
        };
        assert!(p.allows(&same).is_ok());
        assert_eq!(p.default_settings().server_url, "https://chat.example.com");

        let (p, warnings) = Policy::from_managed(
            serde_json::json!({"serverUrl": "ftp://x", "serverUrlLocked": true})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            (p.server_url, p.server_url_locked, warnings.len()),
            (None, false, 1)
        );
    }
}

//! Channel names (`/a/b/c`), their kinds, and wildcard patterns (`/a/*`, `/a/**`).

use std::fmt;

/// A valid channel name or pattern: starts with `/`, non-empty segments, a wildcard (`*` or
/// `**`) only as the last segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid channel name `{0}`")]
pub struct InvalidChannel(pub String);

/// Longest channel name accepted (a bound for hostile input).
pub const MAX_CHANNEL_LEN: usize = 512;

impl ChannelName {
    pub fn parse(name: &str) -> Result<ChannelName, InvalidChannel> {
        let invalid = || InvalidChannel(name.chars().take(64).collect());
        if name.len() > MAX_CHANNEL_LEN || !name.starts_with('/') || name.len() < 2 {
            return Err(invalid());
        }
        let segments: Vec<&str> = name[1..].split('/').collect();
        let last = segments.len() - 1;
        for (i, seg) in segments.iter().enumerate() {
            let ok = !seg.is_empty()
                && if seg.contains('*') {
                    i == last && (*seg == "*" || *seg == "**")
                } else {
                    seg.chars().all(|c| !c.is_control() && !c.is_whitespace())
                };
            if !ok {
                return Err(invalid());
            }
        }
        Ok(ChannelName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_meta(&self) -> bool {
        self.0.starts_with("/meta/")
    }

    pub fn is_service(&self) -> bool {
        self.0.starts_with("/service/")
    }

    /// Ends in `*` or `**`.
    pub fn is_wildcard(&self) -> bool {
        self.0.ends_with("/*") || self.0.ends_with("/**")
    }

    /// Whether the pattern `self` covers the concrete channel `name`: `/a/*` matches `/a/b`
    /// only; `/a/**` matches `/a/b` and `/a/b/c`; a plain name matches itself.
    pub fn matches(&self, name: &str) -> bool {
        if let Some(prefix) = self.0.strip_suffix("/**") {
            name.len() > prefix.len() + 1
                && name.starts_with(prefix)
                && name.as_bytes()[prefix.len()] == b'/'
        } else if let Some(prefix) = self.0.strip_suffix("/*") {
            name.len() > prefix.len() + 1
                && name.starts_with(prefix)
                && name.as_bytes()[prefix.len()] == b'/'
                && !name[prefix.len() + 1..].contains('/')
        } else {
            self.0 == name
        }
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_names() {
        for ok in [
            "/a",
            "/a/b",
            "/a/*",
            "/a/**",
            "/v2/me/chats",
            "/service/session/create",
        ] {
            assert!(ChannelName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/", "a/b", "/a//b", "/a/", "/*/b", "/a/b*", "/a/***", "/a b", "/a/\n",
        ] {
            assert!(ChannelName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_match_as_the_spec_says() {
        let one = ChannelName::parse("/a/*").unwrap();
        let deep = ChannelName::parse("/a/**").unwrap();
        assert!(one.matches("/a/b"));
        assert!(!one.matches("/a/b/c"));
        assert!(!one.matches("/a"));
        assert!(!one.matches("/ab/c"));
        assert!(deep.matches("/a/b"));
        assert!(deep.matches("/a/b/c"));
        assert!(!deep.matches("/a"));
        assert!(!deep.matches("/ab/c"));
        assert!(ChannelName::parse("/a/b").unwrap().matches("/a/b"));
    }

    #[test]
    fn kinds() {
        assert!(ChannelName::parse("/meta/connect").unwrap().is_meta());
        assert!(ChannelName::parse("/service/echo").unwrap().is_service());
        assert!(ChannelName::parse("/x/**").unwrap().is_wildcard());
    }
}

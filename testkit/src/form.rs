//! `application/x-www-form-urlencoded`, as GMS takes customer requests.

/// Percent-encodes everything but the unreserved characters.
pub fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `k1=v1&k2=v2`, both sides encoded.
pub fn encode(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn brackets_spaces_and_unicode_are_encoded() {
        assert_eq!(
            super::encode(&[("userData[a b]", "ä&=")]),
            "userData%5Ba%20b%5D=%C3%A4%26%3D"
        );
    }
}

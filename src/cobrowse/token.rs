//! A Co-browse session token: the nine digits of a live session (Genesys "Session ID"). It is
//! a secret while the session lives: its `Debug` shows no digit, so it cannot reach a log by
//! accident, and it is stored in `storage.session` only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// How many digits a token has.
pub const TOKEN_DIGITS: usize = 9;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Exactly nine ASCII digits, nothing else.
    pub fn parse(s: &str) -> Option<Token> {
        (s.len() == TOKEN_DIGITS && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Token(s.to_owned()))
    }

    /// The digits, for the one request that needs them (never for a log or a page).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(•••)")
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        let s = String::deserialize(d)?;
        Token::parse(&s).ok_or_else(|| serde::de::Error::custom("not a nine-digit token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nine_digits_make_a_token_and_debug_hides_them() {
        let t = Token::parse("535176834").unwrap();
        assert_eq!(t.expose(), "535176834");
        assert!(!format!("{t:?}").contains('5'));
        for bad in [
            "53517683",
            "5351768345",
            "53517683a",
            " 535176834",
            "５３５１７６８３４",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad}");
        }
        assert!(serde_json::from_str::<Token>(r#""12345678x""#).is_err());
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""535176834""#);
    }
}

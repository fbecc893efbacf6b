//! Where a co-browse token can arrive in a chat, and how it is recognised. Only what the
//! **customer** of a chat sent counts (agent and system lines never do), in three carriers:
//!
//! - the custom notice our External Media Adapter sends (`sendCbSessionToken`): the text
//!   [`NOTICE_MARKER`] followed by the nine digits, nothing else;
//! - the chat's user data under [`USER_DATA_KEY`] (a site may use GMS `updateData`);
//! - nine digits the customer typed in a message, spaces or dashes allowed between them, not
//!   part of a longer number or word (`ORD123456789`, `3.141592653`, a phone number).
//!
//! The agent may also enter a code on a chat ([`entered`]). Whatever the carrier, a token found
//! is only a candidate: it is attached after the server verified it for that chat.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::token::{Token, TOKEN_DIGITS};
use crate::chat::{Line, LineKind, Role};

/// The custom notice text our adapter sends: `cobrowse-token:535176834`.
pub const NOTICE_MARKER: &str = "cobrowse-token:";
/// The user data key a site may set to the token.
pub const USER_DATA_KEY: &str = "cobrowse-token";
/// At most this many typed candidates are taken from one message.
pub const MAX_TYPED_PER_LINE: usize = 3;

/// How a token reached the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Notice,
    UserData,
    Typed,
    /// The agent entered it on the chat.
    Agent,
}

/// A candidate token on a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub chat_id: String,
    pub token: Token,
    pub carrier: Carrier,
    /// The transcript line it came in, if any.
    pub index: Option<i64>,
}

/// The token of a marker notice: the marker, then exactly nine digits.
pub fn in_notice(text: &str) -> Option<Token> {
    Token::parse(text.trim().strip_prefix(NOTICE_MARKER)?.trim())
}

/// Whether `text` is a marker notice (with or without a valid token after it).
pub fn is_marker_notice(text: &str) -> bool {
    text.trim_start().starts_with(NOTICE_MARKER)
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == '-' || c == '\u{a0}'
}

/// A run of digits with single separators between them: byte range and digits.
struct Run {
    start: usize,
    end: usize,
    digits: String,
}

fn runs(text: &str) -> Vec<Run> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        let mut last_digit = i;
        let mut j = i;
        while j < chars.len() {
            let c = chars[j].1;
            if c.is_ascii_digit() {
                digits.push(c);
                last_digit = j;
                j += 1;
            } else if is_separator(c) && chars.get(j + 1).is_some_and(|n| n.1.is_ascii_digit()) {
                j += 1;
            } else {
                break;
            }
        }
        let end_byte = chars[last_digit].0 + 1;
        out.push(Run {
            start: chars[start].0,
            end: end_byte,
            digits,
        });
        i = last_digit + 1;
    }
    out
}

/// Whether the run at `start..end` stands alone: no letter, digit or decimal point touches it.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let before: Vec<char> = text[..start].chars().rev().take(2).collect();
    let after: Vec<char> = text[end..].chars().take(2).collect();
    let touches = |near: &[char]| match near {
        [c, ..] if c.is_alphanumeric() || *c == '_' => true,
        ['.' | ',' | '+', d, ..] => d.is_ascii_digit() || near[0] == '+',
        ['+'] => true,
        _ => false,
    };
    !touches(&before) && !touches(&after)
}

/// Nine digits the customer typed in `text`, each standing alone.
pub fn typed(text: &str) -> Vec<Token> {
    runs(text)
        .into_iter()
        .filter(|r| r.digits.len() == TOKEN_DIGITS && stands_alone(text, r.start, r.end))
        .filter_map(|r| Token::parse(&r.digits))
        .take(MAX_TYPED_PER_LINE)
        .collect()
}

/// `text` with the digits of `token`, where it was typed, replaced by dots (separators kept).
pub fn mask_typed(text: &str, token: &Token) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in runs(text) {
        if r.digits == token.expose() {
            out.push_str(&text[at..r.start]);
            out.extend(text[r.start..r.end].chars().map(|c| {
                if c.is_ascii_digit() {
                    '•'
                } else {
                    c
                }
            }));
            at = r.end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// `text` with every nine digits that could be a token masked (for what leaves the extension's
/// pages, such as a system notification's text).
pub fn mask_all_typed(text: &str) -> String {
    typed(text)
        .iter()
        .fold(text.to_owned(), |t, token| mask_typed(&t, token))
}

/// A code the agent entered: nine digits, with any spaces or dashes.
pub fn entered(code: &str) -> Option<Token> {
    let digits: String = code.chars().filter(|c| !is_separator(*c)).collect();
    Token::parse(digits.trim())
}

/// The token under [`USER_DATA_KEY`], if the chat's user data carries one.
pub fn in_user_data(user_data: &Map<String, Value>) -> Option<Token> {
    user_data
        .get(USER_DATA_KEY)
        .and_then(Value::as_str)
        .and_then(|v| Token::parse(v.trim()))
}

/// The candidates a transcript line carries: the customer's marker notice or typed digits.
pub fn in_line(chat_id: &str, line: &Line) -> Vec<Found> {
    if line.role != Role::Customer {
        return Vec::new();
    }
    let Some(text) = line.text.as_deref() else {
        return Vec::new();
    };
    let found = |token, carrier| Found {
        chat_id: chat_id.to_owned(),
        token,
        carrier,
        index: Some(line.index),
    };
    match line.kind {
        LineKind::CustomNotice | LineKind::Notice => in_notice(text)
            .map(|t| found(t, Carrier::Notice))
            .into_iter()
            .collect(),
        LineKind::Text => typed(text)
            .into_iter()
            .map(|t| found(t, Carrier::Typed))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(text: &str) -> Vec<String> {
        typed(text).iter().map(|t| t.expose().to_owned()).collect()
    }

    #[test]
    fn nine_typed_digits_count_with_spaces_or_dashes_but_not_inside_longer_numbers() {
        assert_eq!(digits("my code is 535176834"), ["535176834"]);
        assert_eq!(digits("535 176 834, thanks"), ["535176834"]);
        assert_eq!(digits("535-176-834"), ["535176834"]);
        assert_eq!(digits("(535176834)"), ["535176834"]);
        assert_eq!(digits("code: 5 3 5 1 7 6 8 3 4!"), ["535176834"]);
        for none in [
            "5351768341",
            "53517683",
            "call +1 535 176 8340",
            "+535176834",
            "ORD535176834",
            "535176834x",
            "3.535176834",
            "535176834.5",
            "1,535,176,834",
            "535  176  834",
            "535--176834",
        ] {
            assert_eq!(digits(none), Vec::<String>::new(), "{none}");
        }
        assert_eq!(
            digits("111111111 and 222-222-222"),
            ["111111111", "222222222"]
        );
        assert_eq!(
            typed(&"123456789, ".repeat(10)).len(),
            MAX_TYPED_PER_LINE,
            "bounded per line"
        );
    }

    #[test]
    fn typed_digits_are_masked_in_place() {
        let t = Token::parse("535176834").unwrap();
        assert_eq!(mask_typed("code 535-176-834 ok", &t), "code •••-•••-••• ok");
        assert_eq!(mask_typed("no 111111111", &t), "no 111111111");
        assert_eq!(
            mask_all_typed("111111111 or 222 222 222, not 1234"),
            "••••••••• or ••• ••• •••, not 1234"
        );
    }

    #[test]
    fn the_marker_notice_carries_exactly_one_token() {
        assert_eq!(
            in_notice("cobrowse-token:535176834").map(|t| t.expose().to_owned()),
            Some("535176834".to_owned())
        );
        assert!(in_notice(" cobrowse-token: 535176834 ").is_some());
        assert!(in_notice("cobrowse-token:535176834 and more").is_none());
        assert!(in_notice("token:535176834").is_none());
        assert!(is_marker_notice("cobrowse-token:junk"));
    }

    #[test]
    fn only_the_customer_counts() {
        let line = |role, kind, text: &str| Line {
            index: 4,
            kind,
            role,
            nickname: String::new(),
            text: Some(text.into()),
            at_ms: None,
            internal: false,
        };
        let found = in_line("C", &line(Role::Customer, LineKind::Text, "535176834"));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].carrier, found[0].index),
            (Carrier::Typed, Some(4))
        );
        let notice = line(
            Role::Customer,
            LineKind::CustomNotice,
            "cobrowse-token:535176834",
        );
        assert_eq!(in_line("C", &notice)[0].carrier, Carrier::Notice);
        for (role, kind, text) in [
            (Role::Agent, LineKind::Text, "535176834"),
            (Role::System, LineKind::Text, "535176834"),
            (
                Role::Agent,
                LineKind::CustomNotice,
                "cobrowse-token:535176834",
            ),
            (Role::Customer, LineKind::CustomNotice, "535176834"),
            (Role::Customer, LineKind::PushUrl, "https://x/535176834"),
        ] {
            assert!(in_line("C", &line(role, kind, text)).is_empty(), "{text}");
        }
    }

    #[test]
    fn agents_enter_codes_and_user_data_carries_them() {
        assert!(entered(" 535 176-834 ").is_some());
        assert!(entered("53517683").is_none());
        let mut data = Map::new();
        data.insert(USER_DATA_KEY.into(), Value::from("535176834"));
        assert!(in_user_data(&data).is_some());
        data.insert(USER_DATA_KEY.into(), Value::from(535176834));
        assert!(
            in_user_data(&data).is_none(),
            "a string, as GMS user data is"
        );
    }
}

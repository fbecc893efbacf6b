//! The agent's chats, as pure data and reducers: each chat's transcript keyed by the server's
//! `index` (dedupe, order, gap detection and resync), and the outbox of messages the agent
//! wrote (a client id before sending, retried until acknowledged, never shown twice). The
//! background drives these from notifications and REST replies and stores them; the popup
//! renders them.

pub mod attention;
pub mod desk;
pub mod legacy;
pub mod outbox;
pub mod transcript;
pub mod view;

pub use view::{sort_summaries, PageModel};

pub use desk::{
    ChatChanged, ChatHead, ChatIndex, Desk, DeskChange, DeskMeta, DeskOutcome, Effect, Key, Record,
    Retention, SendResult, Stored,
};
pub use outbox::{Outbox, OutgoingMessage, OutgoingState, SendFailure};
pub use transcript::{Applied, CustomerWords, Line, LineKind, Role, Transcript, TranscriptHead};

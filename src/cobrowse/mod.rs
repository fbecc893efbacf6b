//! Co-browse on the agent's side, as pure data: the token ([`token`]), where it can arrive in a
//! chat and how it is recognised ([`detect`]), the attachments of verified sessions to chats
//! with their rules ([`attach`]), and the Genesys live API a controller speaks ([`live`]).
//! The agent's session (`crate::agent`) drives them: candidates from the desk are verified by
//! the server for their chat before anything is shown as attachable.

pub mod attach;
pub mod detect;
pub mod live;
pub mod token;

pub use attach::{
    Attached, Attachments, ChatCobrowse, Check, CobrowseChange, CobrowseOutcome, JoinPlan, Refused,
};
pub use detect::{Carrier, Found};
pub use token::Token;

//! Names of the keys the background writes in extension storage.
//!
//! `storage.local` holds durable, non-secret data (it survives browser restarts);
//! `storage.session` holds secrets (kept in memory, gone when the browser quits).

/// `storage.local`: the agent's [`crate::settings::Settings`].
pub const SETTINGS: &str = "settings";

/// `storage.local`: the desk's records are named by [`crate::chat::Key::name`] (`desk_meta`,
/// `chat_index`, `waiting`, `outbox`, `chat:<id>`, `lines:<id>:<page>`).
pub const CHAT_HEAD_PREFIX: &str = "chat:";
pub const LINES_PREFIX: &str = "lines:";

/// `storage.session`: the agent's [`crate::protocol::Credentials`] (a secret: never local).
pub const CREDENTIALS: &str = "credentials";

/// `storage.session`: the connection's [`crate::protocol::AgentStatus`] facts.
pub const AGENT_STATUS: &str = "agent_status";

/// `storage.local`: the agent's [`crate::chat::attention::NotifySettings`].
pub const NOTIFY_SETTINGS: &str = "notify_settings";

/// `storage.session`: which notifications were shown when ([`crate::chat::attention::Shown`]).
pub const NOTIFICATIONS_SHOWN: &str = "notifications_shown";

/// `storage.local`: how many finished chats the desk keeps ([`crate::chat::Retention`]).
pub const RETENTION: &str = "retention";

/// `storage.session`: the HTTP session's [`crate::gws::CsrfToken`], when the server uses CSRF
/// protection (a secret: never local).
pub const CSRF_TOKEN: &str = "csrf_token";

/// `storage.session`: the co-browses attached to chats and the candidates being verified
/// ([`crate::cobrowse::Attachments`]; holds live tokens: never local).
pub const COBROWSE: &str = "cobrowse";

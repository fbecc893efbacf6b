//! Custom hooks of the pages: state that belongs to the page itself (never the background's).

pub mod use_draft;
pub mod use_now;
pub mod use_typing;

pub use use_draft::{use_draft, UseDraftHandle};
pub use use_now::use_now;
pub use use_typing::use_typing;

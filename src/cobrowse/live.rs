//! The Genesys Co-browse live API over CometD, as far as a controller uses it: join a session
//! as controller (role 3) on `/service/session/join`, stop it on `/service/session/stop`. The
//! server answers on the same channel (`{"error": …}` when it refuses) and tells every
//! participant `/service/session/deactivated` when the session ends.

use serde::{Deserialize, Serialize};

pub const JOIN_CHANNEL: &str = "/service/session/join";
pub const STOP_CHANNEL: &str = "/service/session/stop";
pub const DEACTIVATED_CHANNEL: &str = "/service/session/deactivated";

/// Genesys' participant roles.
pub const ROLE_CONTROLLER: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    #[serde(rename = "sessionToken")]
    pub session_token: String,
    pub role: i64,
}

/// The answer on [`JOIN_CHANNEL`] (or [`STOP_CHANNEL`]): the participant's token, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceAnswer {
    #[serde(rename = "userToken", default, skip_serializing_if = "Option::is_none")]
    pub user_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    #[serde(rename = "userToken")]
    pub user_token: String,
}

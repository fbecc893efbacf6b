//! The co-browse CometD endpoint, `/cobrowse/cometd` (our Bayeux engine, long-polling and
//! WebSocket), with Genesys' service channels: `/service/session/create`, `join`, `exit`,
//! `stop` (request and answer on the same channel), and the server's notifications
//! `/service/session/joined`, `activated`, `deactivated` to the session's participants.
//!
//! Anyone may connect (a customer's page is anonymous); an agent is recognised like on the
//! agent API (the session cookie or Basic on the request, or a notifications token in the
//! handshake `ext`) and may then join as agent (2) or controller (3). Nobody subscribes to
//! anything or publishes outside `/service/session/*`.

use std::sync::{Arc, Weak};

use axum::http::HeaderMap;
use bayeux_net::server::{Authenticator, Bayeux};
use cobrowse_agent::bayeux::channel::ChannelName;
use cobrowse_agent::bayeux::message::FrameLimits;
use cobrowse_agent::bayeux::server::{Authorizer, ServerConfig, ServiceRequest};
use serde_json::{json, Map, Value};

use super::{ChatIdentity, Cobrowse, Joined, Visitor};
use crate::error::ApiError;

/// Service channels only, and only Genesys' session ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionChannels;

impl Authorizer<Visitor> for SessionChannels {
    fn may_subscribe(&self, _: &Visitor, _: &ChannelName) -> bool {
        false
    }
    fn may_publish(&self, _: &Visitor, channel: &ChannelName) -> bool {
        matches!(
            channel.as_str(),
            "/service/session/create"
                | "/service/session/join"
                | "/service/session/exit"
                | "/service/session/stop"
        )
    }
}

pub type CobrowseBayeux = Bayeux<Visitor, SessionChannels>;

/// Who a co-browse CometD client is.
pub struct VisitorAuthenticator {
    pub cobrowse: Arc<Cobrowse>,
}

impl Authenticator for VisitorAuthenticator {
    type Principal = Visitor;

    async fn principal_from_headers(
        &self,
        headers: &HeaderMap,
        peer: Option<std::net::IpAddr>,
    ) -> Option<Visitor> {
        let c = &self.cobrowse;
        let caller = crate::auth::Caller { headers, peer };
        if let Some(agent) = c.sessions.agent_from(&c.hub, caller).await {
            return Some(Visitor::Agent(agent));
        }
        // Credentials that do not hold are refused, not taken as anonymous.
        if headers.contains_key(axum::http::header::AUTHORIZATION) {
            return None;
        }
        Some(Visitor::Anonymous)
    }

    async fn principal_from_handshake_ext(&self, ext: &Map<String, Value>) -> Option<Visitor> {
        match cobrowse_agent::gws::notifications_token_in(ext) {
            Some(token) => self
                .cobrowse
                .sessions
                .redeem_token(token)
                .map(Visitor::Agent),
            None => Some(Visitor::Anonymous),
        }
    }
}

fn text(data: &Value, name: &str) -> Option<String> {
    data.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .map(str::to_owned)
}

fn joined_reply(j: &Joined) -> Value {
    json!({
        "userToken": j.user.user_token,
        "userId": j.user.user_id,
        "users": j.others.iter().map(|u| json!({
            "userId": u.user_id.to_string(), "role": u.role, "name": u.name,
        })).collect::<Vec<_>>(),
        "sessionHistoryId": j.session.id,
    })
}

fn answer(c: &Cobrowse, request: &ServiceRequest<Visitor>) -> Result<Value, ApiError> {
    let data = &request.data;
    match request.channel.as_str() {
        "/service/session/create" => {
            let binding = ChatIdentity::from_fields(|k| text(data, k))?;
            let s = c.create(binding)?;
            Ok(json!({ "sessionToken": s.token, "customerToken": s.customer_token }))
        }
        "/service/session/join" => {
            let token =
                text(data, "sessionToken").ok_or_else(|| ApiError::missing("sessionToken"))?;
            let role = data
                .get("role")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::missing("role"))?;
            let name = text(data, "name");
            let customer_token = text(data, "customerToken");
            let joined = c.join(
                &request.principal,
                &token,
                role,
                name,
                customer_token.as_deref(),
                &request.client_id,
            )?;
            Ok(joined_reply(&joined))
        }
        "/service/session/exit" => {
            let user = text(data, "userToken").ok_or_else(|| ApiError::missing("userToken"))?;
            c.exit(&user)?;
            Ok(json!({}))
        }
        "/service/session/stop" => {
            let user = text(data, "userToken").ok_or_else(|| ApiError::missing("userToken"))?;
            c.stop(&user)?;
            Ok(json!({}))
        }
        other => Err(ApiError::new(404, 6, format!("no service channel {other}"))),
    }
}

/// The endpoint; its service channels answer through `cobrowse` (set once it exists).
pub fn endpoint(cobrowse: Weak<Cobrowse>) -> CobrowseBayeux {
    let handler = move |request: ServiceRequest<Visitor>, bayeux: &CobrowseBayeux| {
        let Some(c) = cobrowse.upgrade() else { return };
        let reply = answer(&c, &request).unwrap_or_else(|e| json!({ "error": e.message }));
        bayeux.deliver_to(&request.client_id, &request.channel, reply);
    };
    let bayeux = Bayeux::new(
        ServerConfig::default(),
        SessionChannels,
        FrameLimits::default(),
        Some(Arc::new(handler)),
    );
    bayeux.spawn_sweeper();
    bayeux
}

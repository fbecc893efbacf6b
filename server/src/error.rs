//! The server's API error: an HTTP status, a Genesys `statusCode` and a message, as both
//! APIs answer them (`{"statusCode": N, "statusMessage": "…"}`).

use crate::store::StoreError;

/// A failed API call: HTTP status, Genesys `statusCode` and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub http: u16,
    pub status_code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(http: u16, status_code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            http,
            status_code,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, 6, format!("{what} not found"))
    }
    pub fn invalid_state(message: &str) -> ApiError {
        ApiError::new(400, 2, message)
    }
    pub fn missing(param: &str) -> ApiError {
        ApiError::new(400, 1, format!("required parameter {param} is missing"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("chat"),
            StoreError::Sql(e) => {
                // The debug form carries SQLite's extended code (which kind of busy, say).
                tracing::error!(error = %e, detail = ?e, "database error");
                ApiError::new(500, 4, "internal error")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

//! Introspection for tests and rehearsals, unsigned, under `/_emulator/` (a prefix the real API
//! never uses): `GET /_emulator/state`, `GET /_emulator/stats`, `POST /_emulator/reset`. These
//! requests are not counted in the statistics.

use http::{Method, Response, StatusCode};

use super::response::{self, Body, Failure, REST_JSON};
use super::server::Emulator;

/// The path prefix of introspection requests.
pub const PREFIX: &str = "/_emulator/";

pub fn handle(emulator: &Emulator, method: &Method, path: &str) -> Response<Body> {
    let body = match (method, path.strip_prefix(PREFIX)) {
        (&Method::GET, Some("state")) => serde_json::to_vec(&emulator.state()),
        (&Method::GET, Some("stats")) => serde_json::to_vec(&emulator.stats()),
        (&Method::POST, Some("reset")) => {
            emulator.reset();
            Ok(b"{}".to_vec())
        }
        _ => {
            let message = format!("{method} {path}: try GET {PREFIX}state, GET {PREFIX}stats or POST {PREFIX}reset");
            return response::error(
                &Failure::new(StatusCode::NOT_FOUND, "UnknownOperationException", message),
                REST_JSON,
            );
        }
    };
    match body {
        Ok(body) => response::json(StatusCode::OK, REST_JSON, body),
        Err(error) => {
            let failure =
                Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", error.to_string());
            response::error(&failure, REST_JSON)
        }
    }
}

//! The HTTP side of the socket: routes, and what both transports check
//! before a socket exists — `vsn`, `check_origin`, the auth token and the
//! socket handler's `connect`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use base64::Engine;
use futures_util::FutureExt;

use crate::channel::Assigns;
use crate::endpoint::{CheckOrigin, ConnectInfo, Endpoint, Transport};
use crate::serializer::Vsn;

/// The WebSocket subprotocol prefix of a Phoenix 1.8 `authToken`.
pub(crate) const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

pub(crate) fn router(ep: Endpoint) -> axum::Router {
    let path = ep.config().path.trim_end_matches('/').to_string();
    let limit = ep.config().max_frame_size;
    axum::Router::new()
        .route(&format!("{path}/websocket"), get(crate::ws::upgrade))
        .route(
            &format!("{path}/longpoll"),
            get(crate::longpoll::poll).post(crate::longpoll::publish),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ep)
}

/// A socket that passed every check.
pub(crate) struct Accepted {
    pub(crate) vsn: Vsn,
    pub(crate) assigns: Assigns,
    pub(crate) id: Option<String>,
}

/// Why a socket is refused: the HTTP status and a line for the log.
pub(crate) struct Refused(pub(crate) StatusCode, pub(crate) String);

/// The token of a `base64url.bearer.phx.…` subprotocol.
pub(crate) fn auth_token_of_protocols(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    let enc = v
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(AUTH_TOKEN_PREFIX))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(enc.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(enc.trim_end_matches('='))
        })
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// `check_origin`.
fn origin_allowed(check: &CheckOrigin, origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        // No Origin: not a browser page (Phoenix lets it through too).
        return true;
    };
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", origin));
    match check {
        CheckOrigin::Off => true,
        CheckOrigin::SameHost => host.is_some_and(|h| h.eq_ignore_ascii_case(rest)),
        CheckOrigin::List(allowed) => allowed.iter().any(|a| match a.strip_prefix("//") {
            Some(h) => h.eq_ignore_ascii_case(rest),
            None => a.eq_ignore_ascii_case(&format!("{scheme}://{rest}")),
        }),
    }
}

/// Every check before a socket: vsn (403), origin (403), `connect`
/// (403 when it refuses, 500 when it panics).
pub(crate) async fn accept(
    ep: &Endpoint,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    peer: SocketAddr,
    auth_token: Option<String>,
    transport: Transport,
) -> Result<Accepted, Refused> {
    let vsn = params.get("vsn").map(String::as_str);
    let Some(vsn) = Vsn::negotiate(vsn) else {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            format!(
                "no serializer for vsn {:?} (1.0.x and 2.0.x are served)",
                vsn.unwrap_or("")
            ),
        ));
    };
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let origin = text(header::ORIGIN);
    if !origin_allowed(&ep.config().check_origin, origin, text(header::HOST)) {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            format!(
                "origin {} is not allowed (check_origin)",
                origin.unwrap_or("")
            ),
        ));
    }
    let info = ConnectInfo {
        peer,
        origin: origin.map(str::to_string),
        auth_token,
        transport,
    };
    let mut assigns = Assigns::default();
    let handler = &ep.0.handler;
    let r = AssertUnwindSafe(handler.connect(params, &info, &mut assigns))
        .catch_unwind()
        .await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(())) => {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                "connect refused the socket".into(),
            ))
        }
        Err(_) => {
            return Err(Refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "connect panicked".into(),
            ))
        }
    }
    let id = handler.id(&assigns);
    Ok(Accepted { vsn, assigns, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let same = CheckOrigin::SameHost;
        assert!(origin_allowed(&same, None, Some("a:4000")));
        assert!(origin_allowed(&same, Some("http://a:4000"), Some("a:4000")));
        assert!(!origin_allowed(
            &same,
            Some("http://evil:4000"),
            Some("a:4000")
        ));
        let list = CheckOrigin::List(vec!["https://x.com".into(), "//y.com".into()]);
        assert!(origin_allowed(&list, Some("https://x.com"), None));
        assert!(!origin_allowed(&list, Some("http://x.com"), None));
        assert!(origin_allowed(&list, Some("http://y.com"), None));
        assert!(origin_allowed(&CheckOrigin::Off, Some("http://z"), None));
    }

    #[test]
    fn auth_token_from_subprotocols() {
        let mut h = HeaderMap::new();
        // btoa("secret token") without padding, as phoenix.js sends it.
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "phoenix, base64url.bearer.phx.c2VjcmV0IHRva2Vu"
                .parse()
                .expect("header"),
        );
        assert_eq!(auth_token_of_protocols(&h).as_deref(), Some("secret token"));
        assert_eq!(auth_token_of_protocols(&HeaderMap::new()), None);
    }
}

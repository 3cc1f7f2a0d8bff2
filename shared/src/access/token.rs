//! Session tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (`HS256`), as Iorio's
//! sessions were.
//!
//! A token is `base64url(header).base64url(claims).base64url(signature)`; its claims say who
//! (`sub`), since when (`iat`) and until when (`exp`, seconds since the epoch). The signing key
//! is derived from the cluster's cookie ([`SessionKey::from_cookie`]), which every node holds,
//! so a token made by one node is checked by any other without asking anyone, and nobody
//! without the cookie can make one. Only `HS256` is accepted: a token that names another
//! algorithm (`none` included) is refused whatever it carries.

use crate::net::cookie::Cookie;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's name.
    pub sub: String,
    /// When the token was made, in seconds since the epoch.
    pub iat: u64,
    /// When it stops being accepted, in seconds since the epoch.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token is not signed with HS256")]
    WrongAlgorithm,
    #[error("the session token's signature is wrong")]
    BadSignature,
    #[error("the session token expired")]
    Expired,
}

/// The key tokens are signed with. `Debug` never shows it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

impl SessionKey {
    /// The key of a cluster: HMAC-SHA256(cookie, a label of its own), so that it is not the
    /// cookie itself, and differs from every other use of it.
    pub fn from_cookie(cookie: &Cookie) -> SessionKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(cookie.secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"ringcore session tokens");
        SessionKey(mac.finalize().into_bytes().into())
    }

    /// A signed token carrying `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
        };
        let mut token = encode_part(&header);
        token.push('.');
        token.push_str(&encode_part(claims));
        let signature = self.mac(token.as_bytes()).finalize().into_bytes();
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        token
    }

    /// The claims of `token` if this key signed it and it has not expired at `now_s`.
    pub fn verify(&self, token: &str, now_s: u64) -> Result<Claims, TokenError> {
        let (signed, signature) = token.trim().rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, claims) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        if claims.contains('.') {
            return Err(TokenError::Malformed);
        }
        let header: Header = decode_part(header)?;
        if header.alg != "HS256" {
            return Err(TokenError::WrongAlgorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        // verify_slice compares in constant time.
        self.mac(signed.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_part(claims)?;
        if claims.exp <= now_s {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn mac(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("32 bytes are a fine key");
        mac.update(signed);
        mac
    }
}

fn encode_part(value: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("a token part always encodes"))
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> SessionKey {
        SessionKey::from_cookie(&Cookie::new(secret).unwrap())
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "alice".into(),
            iat: 100,
            exp,
        }
    }

    #[test]
    fn a_token_carries_its_claims_to_any_holder_of_the_cookie() {
        let token = key("cluster-secret").sign(&claims(2000));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(key("cluster-secret").verify(&token, 1000), Ok(claims(2000)));
    }

    #[test]
    fn another_cookie_or_a_changed_claim_is_refused() {
        let token = key("cluster-secret").sign(&claims(2000));
        assert_eq!(
            key("other-secret").verify(&token, 1000),
            Err(TokenError::BadSignature)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = encode_part(&Claims {
            sub: "admin".into(),
            ..claims(2000)
        });
        parts[1] = &forged;
        assert_eq!(
            key("cluster-secret").verify(&parts.join("."), 1000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let token = key("s").sign(&claims(2000));
        assert_eq!(key("s").verify(&token, 2000), Err(TokenError::Expired));
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let header = encode_part(&Header {
            alg: "none".into(),
            typ: None,
        });
        let unsigned = format!("{header}.{}.", encode_part(&claims(2000)));
        assert_eq!(
            key("s").verify(&unsigned, 1000),
            Err(TokenError::WrongAlgorithm)
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.e30"] {
            assert!(key("s").verify(garbage, 1000).is_err(), "{garbage}");
        }
    }
}

//! Sessions: `POST /v1/sessions` makes a guest user with an unguessable
//! bearer token, and every authenticated request finds its user here.
//!
//! Only the SHA-256 of a token is stored (and cached); a session expires
//! `session_ttl_ms` after it was created, even before its sweep.

use crate::domain::UserId;
use crate::idempotency::{Keys, Outcome};
use crate::replies::EngineError;
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::store::{Mutation, Store};
use crate::wire::{self, Reply};
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// Sessions kept in the token cache before it is cleared.
const SESSION_CACHE_LIMIT: usize = 100_000;

pub struct Sessions {
    store: Arc<dyn Store>,
    ttl_ms: u64,
    /// Token hash -> (user, created at), a cache of the session records.
    cache: DashMap<[u8; 32], (UserId, u64)>,
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>, ttl_ms: u64) -> Self {
        Sessions {
            store,
            ttl_ms,
            cache: DashMap::new(),
        }
    }

    /// Creates a guest user and its token (durable before the answer).
    pub async fn create(&self, keys: &Keys) -> Reply {
        let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let user = UserId(Uuid::new_v4());
        let mutation = Mutation::Session {
            token_hash: token_hash(&token),
            user,
            created_at_ms: now_ms(),
        };
        let reply = Reply::json(
            201,
            &wire::SessionOut {
                token,
                user_id: user.to_string(),
            },
        );
        keys.commit(Op::Session, None, Outcome::effect(reply, vec![mutation]))
            .await
            .into_reply()
    }

    /// The user a bearer token belongs to, if its session is valid.
    pub async fn authenticate(&self, token: &str) -> Result<Option<UserId>, EngineError> {
        let hash = token_hash(token);
        let session = match self.cache.get(&hash) {
            Some(session) => Some(*session),
            None => {
                let session = self.store.load_session(hash).await?;
                if let Some(session) = session {
                    if self.cache.len() >= SESSION_CACHE_LIMIT {
                        self.cache.clear();
                    }
                    self.cache.insert(hash, session);
                }
                session
            }
        };
        let now = now_ms();
        Ok(session
            .filter(|(_, created)| now.saturating_sub(*created) < self.ttl_ms)
            .map(|(user, _)| user))
    }

    /// Drops cached sessions created before `created_before_ms` (their
    /// records were swept).
    pub fn forget_before(&self, created_before_ms: u64) {
        self.cache
            .retain(|_, (_, created)| *created >= created_before_ms);
    }
}

/// What is stored of a bearer token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

//! Where the engine keeps its data and learns who serves what: a store
//! and its membership, opened together from the settings. The embedded
//! sled store serves alone (`cluster::OneNode`); PostgreSQL's nodes answer
//! membership from their leases in the same database.

use super::contract::Store;
use super::postgres::{PgOptions, PgStore};
use super::sled_store::{SledOptions, SledStore};
use crate::cluster::node_identity;
use crate::cluster::{Membership, OneNode};
use std::path::PathBuf;
use std::sync::Arc;

/// A store and the membership that goes with it.
#[derive(Clone)]
pub struct Storage {
    pub store: Arc<dyn Store>,
    pub membership: Arc<dyn Membership>,
}

/// What to open (`config::Settings::storage`).
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// PostgreSQL when set (migrated first), else the sled store.
    pub database_url: Option<String>,
    /// The sled store's directory; on PostgreSQL, where the node's id is
    /// kept when none is set.
    pub data_dir: PathBuf,
    pub pg: PgOptions,
    pub sled: SledOptions,
}

impl Storage {
    /// A store of one node (sled, or a store a caller opened itself).
    pub fn alone(store: Arc<dyn Store>) -> Storage {
        Storage {
            store,
            membership: Arc::new(OneNode),
        }
    }

    /// PostgreSQL when a database URL is set (migrated first), else the
    /// sled store in the data directory.
    pub async fn open(config: StorageConfig) -> std::io::Result<Storage> {
        let Some(url) = &config.database_url else {
            let store = SledStore::open_with(&config.data_dir, config.sled)
                .map_err(std::io::Error::other)?;
            return Ok(Storage::alone(Arc::new(store)));
        };
        let mut options = config.pg;
        // No id set: the one kept with this node's data, the same on every
        // start (a restarted node takes its partitions back at once).
        let identity = match &options.node_id {
            Some(_) => None,
            None => {
                let identity = node_identity::claim(&config.data_dir)?;
                options.node_id = Some(identity.id.clone());
                Some(identity)
            }
        };
        let mut store = PgStore::connect(url, options)
            .await
            .map_err(std::io::Error::other)?;
        if let Some(identity) = identity {
            store.keep_identity(identity);
        }
        let membership = store.membership();
        Ok(Storage {
            store: Arc::new(store),
            membership,
        })
    }
}

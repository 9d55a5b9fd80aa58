//! The key records of a commit round: planned in a stable order
//! (`KeyPlan`), inserted with the fence in the round's first round trip
//! (`claim_keys`), those another request holds read back
//! (`read_taken_keys`), and what each write set gets from that
//! (`KeyPlan::taken`). Its own file: how a round claims idempotency keys,
//! apart from what the applied write sets then write.

use super::common::{KeyId, Submitted, Taken};
use super::fence::Fence;
use crate::domain::{IdempotencyKey, UserId};
use crate::store::codec::{decode_reply, encode_reply};
use crate::store::contract::StoreError;
use deadpool_postgres::Object;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The key records of a round, in the stable order they are inserted in.
pub(super) struct KeyPlan {
    /// Write set index -> its key, for keyed sets.
    key_of: Vec<Option<KeyId>>,
    /// The first write set of the round with each key: it may claim it.
    first_with: HashMap<KeyId, usize>,
    users: Vec<Uuid>,
    names: Vec<String>,
    created_at_ms: Vec<i64>,
    replies: Vec<Vec<u8>>,
    /// The partition and epoch each key's write set writes under (-1: none):
    /// a key record is inserted only if its write set passes the fence.
    partitions: Vec<i32>,
    epochs: Vec<i64>,
}

impl KeyPlan {
    pub(super) fn of(batch: &[Submitted], fence: &Fence) -> KeyPlan {
        let key_of: Vec<Option<KeyId>> = batch
            .iter()
            .map(|s| s.writes.key.as_ref().map(|k| key_id(k.user, &k.key)))
            .collect();
        let mut first_with = HashMap::new();
        for (i, key) in key_of.iter().enumerate() {
            if let Some(key) = key {
                first_with.entry(key.clone()).or_insert(i);
            }
        }
        let mut ordered: BTreeMap<&KeyId, usize> = BTreeMap::new();
        for (key, i) in &first_with {
            ordered.insert(key, *i);
        }
        let mut plan = KeyPlan {
            key_of: Vec::new(),
            first_with: HashMap::new(),
            users: Vec::with_capacity(ordered.len()),
            names: Vec::with_capacity(ordered.len()),
            created_at_ms: Vec::with_capacity(ordered.len()),
            replies: Vec::with_capacity(ordered.len()),
            partitions: Vec::with_capacity(ordered.len()),
            epochs: Vec::with_capacity(ordered.len()),
        };
        for ((user, name), i) in ordered {
            let record = batch[i].writes.key.as_ref().expect("a keyed set");
            plan.users.push(*user);
            plan.names.push(name.clone());
            plan.created_at_ms.push(record.reply.created_at_ms as i64);
            plan.replies.push(encode_reply(&record.reply));
            let (partition, epoch) = match (fence.refused[i], fence.of[i]) {
                // A set refused already: a partition no node can hold.
                (true, _) => (i32::MAX, 0),
                (false, Some(pair)) => pair,
                (false, None) => (-1, 0),
            };
            plan.partitions.push(partition);
            plan.epochs.push(epoch);
        }
        plan.key_of = key_of;
        plan.first_with = first_with;
        plan
    }

    /// What each write set gets, from the keys this round inserted and
    /// every key record as read back.
    pub(super) fn taken(
        &self,
        batch: &[Submitted],
        fence: &Fence,
        inserted: &HashSet<KeyId>,
        records: &HashMap<KeyId, Vec<u8>>,
    ) -> Vec<Taken> {
        (0..batch.len())
            .map(|i| {
                if fence.refused[i] {
                    return Some(Err(StoreError::Unavailable(
                        "this node no longer owns the show's partition (fenced)".into(),
                    )));
                }
                let key = self.key_of[i].as_ref()?;
                let first = *self.first_with.get(key).expect("every key has a first set");
                if inserted.contains(key) {
                    if first == i {
                        return None;
                    }
                    // An earlier write set of this round claimed the key:
                    // its record is the one this round wrote.
                    let record = batch[first].writes.key.as_ref().expect("a keyed set");
                    return Some(Ok(record.reply.clone()));
                }
                Some(match records.get(key) {
                    Some(reply) => decode_reply(reply),
                    None => Err(StoreError::Unavailable(
                        "a key record vanished during its commit".into(),
                    )),
                })
            })
            .collect()
    }
}

fn key_id(user: UserId, key: &IdempotencyKey) -> KeyId {
    (user.0, key.as_str().to_string())
}

/// Round trip 1, pipelined: `BEGIN`, the round's marker, the fence (the
/// epochs this node holds for the partitions of the round, confirmed and
/// locked `FOR SHARE`, so no claim can change them before this round
/// ends), and the key records of the write sets that pass it, inserted.
/// Returns the confirmed partitions and the keys inserted.
pub(super) async fn claim_keys(
    client: &Object,
    marker: Uuid,
    keys: &KeyPlan,
    fence: &Fence,
    node: &str,
) -> Result<(HashSet<i32>, HashSet<KeyId>), tokio_postgres::Error> {
    const MARK: &str = "INSERT INTO commit_rounds (id) VALUES ($1)";
    const FENCE: &str = "SELECT k.p FROM unnest($1::int4[], $2::int8[]) AS k(p, e)
        CROSS JOIN LATERAL (
            SELECT 1 FROM partitions
            WHERE id = k.p AND epoch = k.e AND owner = $3 LIMIT 1 FOR SHARE) AS held";
    const INSERT: &str = "INSERT INTO idempotency_keys (user_id, key, created_at_ms, reply)
        SELECT k.u, k.n, k.c, k.r
        FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::bytea[], $5::int4[], $6::int8[])
            AS k(u, n, c, r, p, e)
        WHERE k.p = -1 OR EXISTS (
            SELECT 1 FROM partitions WHERE id = k.p AND epoch = k.e AND owner = $7)
        ON CONFLICT DO NOTHING RETURNING user_id, key";
    let mark = client.prepare_cached(MARK).await?;
    let fencing = client.prepare_cached(FENCE).await?;
    let insert = client.prepare_cached(INSERT).await?;
    let begin = client.batch_execute("BEGIN");
    let mark_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&marker];
    let marking = client.execute(&mark, &mark_params);
    let node = node.to_string();
    let fence_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&fence.partitions, &fence.epochs, &node];
    let checking = client.query(&fencing, &fence_params);
    let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &keys.users,
        &keys.names,
        &keys.created_at_ms,
        &keys.replies,
        &keys.partitions,
        &keys.epochs,
        &node,
    ];
    let inserting = async {
        if keys.users.is_empty() {
            Ok(Vec::new())
        } else {
            client.query(&insert, &insert_params).await
        }
    };
    let (_, _, confirmed, inserted) = tokio::try_join!(begin, marking, checking, inserting)?;
    let confirmed = confirmed.iter().map(|row| row.get::<_, i32>(0)).collect();
    let inserted = inserted
        .iter()
        .map(|row| (row.get::<_, Uuid>(0), row.get::<_, String>(1)))
        .collect();
    Ok((confirmed, inserted))
}

/// The records of keys another request holds (one more round trip, rare:
/// the same key raced on two routes). Keys of fenced write sets are not
/// read: their requests write nothing and are refused.
pub(super) async fn read_taken_keys(
    client: &Object,
    keys: &KeyPlan,
    fence: &Fence,
    inserted: &HashSet<KeyId>,
) -> Result<HashMap<KeyId, Vec<u8>>, tokio_postgres::Error> {
    const READ: &str = "SELECT k.u, k.n, r.reply
        FROM unnest($1::uuid[], $2::text[]) AS k(u, n)
        CROSS JOIN LATERAL (
            SELECT reply FROM idempotency_keys WHERE user_id = k.u AND key = k.n LIMIT 1) AS r";
    let mut records = HashMap::new();
    let (users, names): (Vec<Uuid>, Vec<String>) = keys
        .first_with
        .iter()
        .filter(|(key, first)| !fence.refused[**first] && !inserted.contains(*key))
        .map(|((user, name), _)| (*user, name.clone()))
        .unzip();
    if users.is_empty() {
        return Ok(records);
    }
    let read = client.prepare_cached(READ).await?;
    let read_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&users, &names];
    for row in client.query(&read, &read_params).await? {
        records.insert((row.get(0), row.get(1)), row.get::<_, Vec<u8>>(2));
    }
    Ok(records)
}

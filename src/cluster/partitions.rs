//! Shows to partitions: the unit a node leases. Every show belongs to one
//! of `PARTITIONS` partitions by a stable hash of its id, so every node
//! computes the same owner-partition for a show without asking anyone, and
//! a lease covers many shows at one row's cost.

use crate::domain::ShowId;

/// Partitions of the shows; fixed by migration 0003 (the `partitions`
/// table has this many rows).
pub const PARTITIONS: u32 = 256;

/// The partition of a show: a stable hash of its id.
pub fn partition_of(show: ShowId) -> i32 {
    let (high, low) = show.0.as_u64_pair();
    ((high ^ low) % PARTITIONS as u64) as i32
}

/// Shows of two partitions where one was expected (no operation writes
/// for two: each is decided by one show's owner).
#[derive(Debug)]
pub struct SpansPartitions;

/// The one partition of `shows` (`None`: no show at all).
pub fn partition_of_shows(
    shows: impl IntoIterator<Item = ShowId>,
) -> Result<Option<i32>, SpansPartitions> {
    let mut partition = None;
    for show in shows {
        let this = partition_of(show);
        if partition.is_some_and(|p| p != this) {
            return Err(SpansPartitions);
        }
        partition = Some(this);
    }
    Ok(partition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_show_is_always_in_the_same_partition_and_two_shows_may_span_two() {
        let show = ShowId(uuid::Uuid::from_u64_pair(7, 1));
        assert_eq!(partition_of(show), partition_of(show));
        assert!((0..PARTITIONS as i32).contains(&partition_of(show)));
        let other = (0..)
            .map(|n| ShowId(uuid::Uuid::from_u64_pair(n, 2)))
            .find(|s| partition_of(*s) != partition_of(show))
            .expect("another partition");
        assert_eq!(
            partition_of_shows([show, show]).unwrap(),
            Some(partition_of(show))
        );
        assert!(partition_of_shows([show, other]).is_err());
        assert_eq!(partition_of_shows([]).unwrap(), None);
    }
}

//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Why statics: counters are bumped on hot paths from actors, the store and
//! HTTP; a process-wide registry keeps that a single atomic add.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    REGISTRY
        .register(Box::new(metric.clone()))
        .expect("metric registers once");
    metric
}

pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "boxoffice_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )
        .unwrap(),
    )
});

pub static HTTP_LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new(
                "boxoffice_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .unwrap(),
    )
});

pub static BOOKINGS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("boxoffice_bookings_total", "Bookings confirmed").unwrap())
});

pub static SEATS_BOOKED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("boxoffice_seats_booked_total", "Seats sold").unwrap())
});

pub static CONFLICTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("boxoffice_conflicts_total", "Business conflicts by code"),
            &["code"],
        )
        .unwrap(),
    )
});

pub static REPLAYS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_idempotent_replays_total",
            "Responses replayed for a repeated Idempotency-Key",
        )
        .unwrap(),
    )
});

pub static MAILBOX_DEPTH: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "boxoffice_mailbox_depth",
                "Messages queued in actor mailboxes, by actor kind",
            ),
            &["actor"],
        )
        .unwrap(),
    )
});

pub static ACTORS_ACTIVE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new("boxoffice_actors_active", "Activated actors, by kind"),
            &["actor"],
        )
        .unwrap(),
    )
});

pub static OVERLOADED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_overloaded_total",
            "Requests shed with 503 because a mailbox or queue was full",
        )
        .unwrap(),
    )
});

pub static KEYS_EXPIRED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_idempotency_keys_expired_total",
            "Completed Idempotency-Keys forgotten after their TTL",
        )
        .unwrap(),
    )
});

pub static SWEEPS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_sweeps_total",
            "Sweeps of expired keys and sessions this node ran (one node of a cluster sweeps)",
        )
        .unwrap(),
    )
});

pub static STORE_RECORDS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_store_records_written_total",
            "Records the embedded store inserted or removed in its commits (key records included)",
        )
        .unwrap(),
    )
});

pub static STORE_BYTES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_store_bytes_written_total",
            "Key and value bytes of those records",
        )
        .unwrap(),
    )
});

pub static FLUSHES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("boxoffice_store_flushes_total", "Group-commit flushes").unwrap())
});

pub static STORE_SYNCS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_store_syncs_total",
            "fdatasync calls that made the sled log durable (one serves every write made before it)",
        )
        .unwrap(),
    )
});

pub static STORE_STALLED: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "boxoffice_store_stalled",
            "1 while a store commit or flush has run past store_stall_ms (new writes answer 503)",
        )
        .unwrap(),
    )
});

pub static FLUSH_BATCH: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "boxoffice_store_flush_batch_size",
                "Transactions made durable by one flush",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .unwrap(),
    )
});

pub static COMMIT_BATCH: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "boxoffice_store_commit_batch_size",
                "Write sets (requests' effects) applied by one transaction",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .unwrap(),
    )
});

pub static PARTITIONS_OWNED: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "boxoffice_cluster_partitions_owned",
            "Partitions whose lease this node holds (PostgreSQL store)",
        )
        .unwrap(),
    )
});

pub static TAKEOVERS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_cluster_takeovers_total",
            "Partitions this node claimed (raising their epoch)",
        )
        .unwrap(),
    )
});

pub static TAKEOVER_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "boxoffice_cluster_takeover_seconds",
                "From claiming partitions to serving them (their shows reloaded)",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .unwrap(),
    )
});

pub static FORWARDED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_cluster_forwarded_total",
            "Requests sent on to the node owning their show, and answered by it",
        )
        .unwrap(),
    )
});

pub static FENCED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_cluster_fenced_total",
            "Write sets refused because this node no longer held their partition's epoch",
        )
        .unwrap(),
    )
});

pub static DATABASE_HISTORY_CHANGES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_store_history_changes_total",
            "Times a new connection found the database on another history (a promoted standby, \
             a restore: another timeline or system identifier); each drops and reloads every \
             partition this node held",
        )
        .unwrap(),
    )
});

pub static LOST_ACKNOWLEDGED_WRITES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "boxoffice_store_lost_acknowledged_writes_total",
            "Acknowledged write sets that the database no longer has after its history changed \
             (their commit round's marker is missing): lost by a failover to a standby that lagged",
        )
        .unwrap(),
    )
});

pub static ROUNDS_LOOKED_UP: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            prometheus::Opts::new(
                "boxoffice_store_rounds_looked_up_total",
                "Commit rounds whose connection failed before their outcome was known, looked up \
                 by their marker: committed, not committed, or unknown (then the process stops)",
            ),
            &["outcome"],
        )
        .unwrap(),
    )
});

/// Touches every metric so the first scrape lists them all.
pub fn init() {
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&HTTP_LATENCY);
    LazyLock::force(&BOOKINGS);
    LazyLock::force(&SEATS_BOOKED);
    LazyLock::force(&CONFLICTS);
    LazyLock::force(&REPLAYS);
    LazyLock::force(&MAILBOX_DEPTH);
    LazyLock::force(&ACTORS_ACTIVE);
    LazyLock::force(&OVERLOADED);
    LazyLock::force(&FLUSHES);
    LazyLock::force(&STORE_SYNCS);
    LazyLock::force(&STORE_RECORDS);
    LazyLock::force(&STORE_BYTES);
    LazyLock::force(&KEYS_EXPIRED);
    LazyLock::force(&SWEEPS);
    LazyLock::force(&FLUSH_BATCH);
    LazyLock::force(&STORE_STALLED);
    LazyLock::force(&COMMIT_BATCH);
    LazyLock::force(&PARTITIONS_OWNED);
    LazyLock::force(&TAKEOVERS);
    LazyLock::force(&FENCED);
    LazyLock::force(&FORWARDED);
    LazyLock::force(&TAKEOVER_SECONDS);
    LazyLock::force(&DATABASE_HISTORY_CHANGES);
    LazyLock::force(&LOST_ACKNOWLEDGED_WRITES);
    for outcome in ["committed", "not_committed", "unknown"] {
        ROUNDS_LOOKED_UP.with_label_values(&[outcome]);
    }
    for kind in ["seat", "cart", "booking", "show"] {
        MAILBOX_DEPTH.with_label_values(&[kind]);
        ACTORS_ACTIVE.with_label_values(&[kind]);
    }
}

pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&REGISTRY.gather(), &mut out)
        .expect("text encoding");
    String::from_utf8(out).expect("prometheus text is UTF-8")
}

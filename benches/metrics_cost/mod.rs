//! What recording the `metrics` series costs a point read: the same reads
//! with a recorder that keeps every series (as an exporter's registry
//! does) against the same recorder switched off (every handle a no-op: what
//! an application with the feature and no exporter pays, and more than the
//! nothing a build without the feature compiles in).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use pierre_db::{Database, UserId};

use crate::{ROUNDS, Report, Timing};

/// A registry of series, each with lock-free values: the shape of the
/// Prometheus exporter's, without its rendering.
#[derive(Default)]
struct Registry {
    on: AtomicBool,
    series: RwLock<HashMap<Key, Arc<Values>>>,
}

/// Upper bounds of the histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];

#[derive(Default)]
struct Values {
    count: AtomicU64,
    bits: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len() + 1],
}

impl CounterFn for Values {
    fn increment(&self, value: u64) {
        self.count.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.count.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Values {
    fn increment(&self, value: f64) {
        self.add(value);
    }
    fn decrement(&self, value: f64) {
        self.add(-value);
    }
    fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl HistogramFn for Values {
    fn record(&self, value: f64) {
        let bucket = BUCKETS.partition_point(|bound| *bound < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.add(value);
    }
}

impl Values {
    fn add(&self, value: f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

impl Registry {
    fn values(&self, key: &Key) -> Option<Arc<Values>> {
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(values) = self.series.read().unwrap().get(key) {
            return Some(values.clone());
        }
        let mut series = self.series.write().unwrap();
        Some(series.entry(key.clone()).or_default().clone())
    }
}

impl Recorder for &'static Registry {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.values(key)
            .map_or_else(Counter::noop, Counter::from_arc)
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.values(key).map_or_else(Gauge::noop, Gauge::from_arc)
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.values(key)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

/// The process's recorder, installed on first use (a recorder is global
/// for the process's life).
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<&'static Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry: &'static Registry = Box::leak(Box::default());
        metrics::set_global_recorder(registry).unwrap();
        registry
    })
}

/// `db.users().get_by_id` with the series recorded against the same reads
/// without, rounds interleaved; the target: recording costs ≤ 3%.
pub async fn point_read_cost(db: &Database, ids: &[uuid::Uuid], report: &mut Report) {
    let registry = registry();
    let pick = |i: usize| UserId::from_uuid(ids[(i * 7_919) % ids.len()]);
    let mut on = Timing::new();
    let mut off = Timing::new();
    for round in 0..ROUNDS {
        for recorded in [round % 2 == 0, round % 2 == 1] {
            registry.on.store(recorded, Ordering::Relaxed);
            let start = Instant::now();
            for i in 0..200 {
                let user = db.users().get_by_id(pick(round * 200 + i)).await.unwrap();
                assert!(user.is_some());
            }
            let timing = if recorded { &mut on } else { &mut off };
            timing.samples.push(start.elapsed().as_secs_f64() / 200.0);
        }
    }
    registry.on.store(false, Ordering::Relaxed);
    let recorded: u64 = registry
        .series
        .read()
        .unwrap()
        .values()
        .map(|v| v.count.load(Ordering::Relaxed))
        .sum();
    assert!(recorded > 0, "nothing was recorded");
    report.against("user by id: metrics recorded vs not", &on, &off, Some(0.97));
}

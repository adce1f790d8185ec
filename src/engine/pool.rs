//! The memory pool behind `engine.memory_limit`: DataFusion's fair pool,
//! but fair only among the operators that still want memory.
//!
//! DataFusion's `FairSpillPool` caps each reservation of a spillable
//! operator at the pool divided by the number of spillable operators
//! *registered*, until they are dropped. A grouping's partial stage stays
//! registered after it gives up aggregating (the orders come in time order,
//! so it cannot reduce them) and holds nothing from then on; so does an
//! operator that has finished; and each repartition registers a spillable
//! buffer per partition that holds a few batches. At L under 2 GiB each final
//! grouping of the customers' months got a twelfth of the pool and spilled
//! 727 MB. `GreedyMemoryPool` lets the first operator take it all, so the
//! second of two sorts finds nothing left and the query fails.
//!
//! Here:
//! - a spillable operator that gives all its memory back without having been
//!   refused any is *idle* and no longer shares, until it asks again; one
//!   that was refused, spilled and gave its memory back still shares: it will
//!   ask again at once;
//! - operators that have not asked yet share, as in DataFusion's pool, so the
//!   first to ask cannot take the others' shares;
//! - a repartition's buffers take what the others leave and no share (when
//!   nothing is left, a batch spills);
//! - as in DataFusion's pool, the cap is per reservation: a spill's merge
//!   reads each file through a reservation of its own, and relies on it;
//! - unspillable reservations are served first come, first served from what
//!   is left, and the spilling operators share only fifteen sixteenths of the
//!   pool, so that a Parquet writer's buffers or a sort's merge find room.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation, human_readable_size,
};

#[derive(Debug)]
pub struct ActiveFairPool {
    size: usize,
    /// Kept from the spilling operators for unspillable reservations.
    reserve: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    unspillable: usize,
    spillable: usize,
    /// Of `spillable`, what the buffers hold.
    buffered: usize,
    /// The registered spillable operators, by consumer id.
    spillers: HashMap<usize, Spiller>,
    /// How many of them share the pool: not idle, and not buffers.
    active: usize,
    /// Buffers seen, for a test that DataFusion still names them so.
    #[cfg(test)]
    buffers_seen: usize,
}

#[derive(Debug, Default)]
struct Spiller {
    held: usize,
    idle: bool,
    /// Refused since it last held nothing.
    refused: bool,
    /// A repartition's buffers: the batches in flight between partitions, a
    /// few at a time. It takes what the others leave and spills a batch when
    /// nothing is left; it does not take a share.
    buffer: bool,
}

/// DataFusion's name for a repartition's memory, `RepartitionExec[N]`.
const BUFFER_PREFIX: &str = "RepartitionExec[";

impl ActiveFairPool {
    /// A pool of `size` bytes, of which the spilling operators share all
    /// but a sixteenth: the rest is kept for what cannot spill (a Parquet
    /// writer's column buffers, a sort's merge), which would otherwise find
    /// nothing left beside groupings that hold their whole shares.
    pub fn new(size: usize) -> Self {
        Self::with_reserve(size, size / 16)
    }

    fn with_reserve(size: usize, reserve: usize) -> Self {
        Self {
            size,
            reserve,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the counts intact.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pool's size and holdings, for error messages; takes the state the
    /// caller has locked (the lock is not reentrant).
    fn describe(&self, state: &State) -> String {
        format!(
            "{}(pool_size: {}, held: {} by spilling operators ({} of {} sharing, {} in buffers), \
             {} by others)",
            self.name(),
            human_readable_size(self.size),
            human_readable_size(state.spillable),
            state.active,
            state.spillers.len(),
            human_readable_size(state.buffered),
            human_readable_size(state.unspillable),
        )
    }
}

impl State {
    /// The operator asks for memory: it shares again if it was idle.
    fn wake(&mut self, consumer: &MemoryConsumer) -> &mut Spiller {
        let active = &mut self.active;
        let s = self
            .spillers
            .entry(consumer.id())
            .or_insert_with(|| new_spiller(consumer, active));
        if s.idle {
            s.idle = false;
            *active += 1;
        }
        s
    }

    fn add(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        if !consumer.can_spill() {
            self.unspillable += bytes;
            return;
        }
        self.spillable += bytes;
        let s = self.wake(consumer);
        s.held += bytes;
        if s.buffer {
            self.buffered += bytes;
        }
    }

    fn remove(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        if !consumer.can_spill() {
            self.unspillable = self.unspillable.saturating_sub(bytes);
            return;
        }
        self.spillable = self.spillable.saturating_sub(bytes);
        let Some(s) = self.spillers.get_mut(&consumer.id()) else {
            return;
        };
        s.held = s.held.saturating_sub(bytes);
        if s.buffer {
            self.buffered = self.buffered.saturating_sub(bytes);
        } else if s.held == 0 {
            if s.refused {
                // It spilled because it was refused: it will be back.
                s.refused = false;
            } else if !s.idle {
                s.idle = true;
                self.active -= 1;
            }
        }
    }
}

/// A spillable operator as registered: a buffer, or one more to share.
fn new_spiller(consumer: &MemoryConsumer, active: &mut usize) -> Spiller {
    let buffer = consumer.name().starts_with(BUFFER_PREFIX);
    if !buffer {
        *active += 1;
    }
    Spiller {
        buffer,
        ..Spiller::default()
    }
}

impl MemoryPool for ActiveFairPool {
    fn name(&self) -> &str {
        "fair among active"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.state();
            let spiller = new_spiller(consumer, &mut state.active);
            #[cfg(test)]
            if spiller.buffer {
                state.buffers_seen += 1;
            }
            state.spillers.insert(consumer.id(), spiller);
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.state();
            if let Some(s) = state.spillers.remove(&consumer.id())
                && !s.idle
                && !s.buffer
            {
                state.active -= 1;
            }
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.state().add(reservation.consumer(), additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.state().remove(reservation.consumer(), shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if additional == 0 {
            return Ok(());
        }
        let mut state = self.state();
        let consumer = reservation.consumer();
        let available = if consumer.can_spill() {
            let spill_pool = (self.size - self.reserve).saturating_sub(state.unspillable);
            let me = state.wake(consumer);
            if me.buffer {
                spill_pool.saturating_sub(state.spillable)
            } else {
                // Per reservation, as in DataFusion's fair pool: a spill's
                // merge reads each file through a reservation of its own.
                let mine = reservation.size();
                let shared = spill_pool.saturating_sub(state.buffered);
                (shared / state.active.max(1)).saturating_sub(mine)
            }
        } else {
            self.size
                .saturating_sub(state.unspillable + state.spillable)
        };
        if additional > available {
            if consumer.can_spill() {
                state.wake(consumer).refused = true;
            }
            return Err(DataFusionError::ResourcesExhausted(format!(
                "Failed to allocate additional {} for {} with {} already allocated for this \
                 reservation - {} remain available for it in the memory pool: {}",
                human_readable_size(additional),
                consumer.name(),
                human_readable_size(reservation.size()),
                human_readable_size(available),
                self.describe(&state),
            )));
        }
        state.add(consumer, additional);
        if consumer.can_spill() {
            state.wake(consumer).refused = false;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.state();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

impl fmt::Display for ActiveFairPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.describe(&self.state());
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::memory_pool::FairSpillPool;

    use super::*;

    /// A pool without the reserve, so that the shares below are round.
    fn pool(size: usize) -> Arc<dyn MemoryPool> {
        Arc::new(ActiveFairPool::with_reserve(size, 0))
    }

    #[test]
    fn a_sixteenth_is_kept_for_what_cannot_spill() {
        let p: Arc<dyn MemoryPool> = Arc::new(ActiveFairPool::new(160));
        let a = spiller(&p, "a");
        a.try_grow(150).unwrap();
        assert!(a.try_grow(1).is_err());
        let writer = MemoryConsumer::new("ParquetSink(ArrowColumnWriter)").register(&p);
        writer.try_grow(10).unwrap();
        assert!(writer.try_grow(1).is_err(), "the pool is full");
        // What the writer holds comes out of the spilling operators' part.
        a.shrink(150);
        a.try_grow(140).unwrap();
        assert!(a.try_grow(1).is_err());
    }

    fn spiller(pool: &Arc<dyn MemoryPool>, name: &str) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(true)
            .register(pool)
    }

    #[test]
    fn operators_that_gave_their_memory_back_unasked_no_longer_share() {
        // Three partial groupings that held a table and gave up on it, and
        // the final grouping that needs the memory.
        let gave_up = |p: &Arc<dyn MemoryPool>| {
            let partials: Vec<_> = (0..3).map(|i| spiller(p, &format!("partial{i}"))).collect();
            let busy = spiller(p, "final");
            for r in &partials {
                r.try_grow(10).unwrap();
                r.free();
            }
            (partials, busy)
        };
        let p = pool(100);
        let (partials, busy) = gave_up(&p);
        busy.try_grow(100).unwrap();
        assert!(busy.try_grow(1).is_err(), "the pool has 100 bytes");

        // DataFusion's fair pool holds it to 100 / 4 = 25 all along.
        let fair: Arc<dyn MemoryPool> = Arc::new(FairSpillPool::new(100));
        let (_others, busy_fair) = gave_up(&fair);
        assert!(busy_fair.try_grow(26).is_err());

        // A partial grouping that asks again shares again: 50 each.
        busy.free();
        busy.try_grow(60).unwrap();
        partials[0].try_grow(50).unwrap();
        assert!(partials[0].try_grow(1).is_err());
        assert!(busy.try_grow(1).is_err(), "busy holds 60 of its 50");
    }

    #[test]
    fn operators_that_have_not_asked_yet_keep_their_share() {
        let p = pool(100);
        let a = spiller(&p, "a");
        let _b = spiller(&p, "b");
        assert!(a.try_grow(51).is_err());
        a.try_grow(50).unwrap();
    }

    #[test]
    fn an_operator_refused_and_spilled_keeps_its_share() {
        let p = pool(100);
        let (a, b) = (spiller(&p, "a"), spiller(&p, "b"));
        a.try_grow(50).unwrap();
        b.try_grow(50).unwrap();
        // a is refused and spills everything: it will ask again at once, so
        // b may not take its half.
        assert!(a.try_grow(1).is_err());
        a.free();
        assert!(b.try_grow(1).is_err());
        // a reads on, then finishes and gives its memory back unasked: now it
        // is idle and b may have the pool.
        a.try_grow(30).unwrap();
        a.free();
        b.try_grow(50).unwrap();
        assert!(b.try_grow(1).is_err());
        assert_eq!(p.reserved(), 100);
    }

    #[test]
    fn a_dropped_operator_no_longer_shares() {
        let p = pool(90);
        let a = spiller(&p, "a");
        let (b, c) = (spiller(&p, "b"), spiller(&p, "c"));
        assert!(a.try_grow(31).is_err());
        drop(b);
        a.try_grow(45).unwrap();
        drop(c);
        a.try_grow(45).unwrap();
        assert_eq!(p.reserved(), 90);
    }

    #[test]
    fn reservations_of_one_operator_share_once_and_each_has_the_share() {
        let p = pool(90);
        let a = spiller(&p, "a");
        let b = spiller(&p, "b");
        a.try_grow(30).unwrap();
        let a2 = a.split(10);
        assert_eq!((a.size(), a2.size()), (20, 10));
        // Two operators, not three: each reservation may hold 45, as in
        // DataFusion's fair pool (a spill's merge reads each file through a
        // reservation of its own).
        a2.try_grow(35).unwrap();
        assert!(a2.try_grow(1).is_err());
        a.try_grow(25).unwrap();
        assert!(b.try_grow(46).is_err(), "b's share is 45 too");
        // a is idle only once all its reservations are empty.
        a.free();
        assert!(b.try_grow(46).is_err());
        a2.free();
        b.try_grow(90).unwrap();
    }

    #[test]
    fn unspillable_reservations_come_out_of_what_is_left_and_shrink_the_shares() {
        let p = pool(100);
        let hash_join = MemoryConsumer::new("build side").register(&p);
        let a = spiller(&p, "a");
        a.try_grow(70).unwrap();
        assert!(hash_join.try_grow(31).is_err(), "only 30 are left");
        hash_join.try_grow(30).unwrap();
        // The spilling operators share the 70 the join does not hold.
        assert!(a.try_grow(1).is_err());
        hash_join.shrink(30);
        a.try_grow(30).unwrap();
        assert_eq!(p.reserved(), 100);
    }

    #[test]
    fn a_refusal_says_who_asked_and_what_the_pool_holds() {
        let p = pool(1024 * 1024);
        let a = spiller(&p, "ExternalSorter[3]");
        let b = spiller(&p, "other");
        b.try_grow(512 * 1024).unwrap();
        a.try_grow(256 * 1024).unwrap();
        let err = a.try_grow(300 * 1024).unwrap_err().to_string();
        assert!(
            err.contains(
                "Failed to allocate additional 300.0 KB for ExternalSorter[3] with 256.0 KB \
                 already allocated for this reservation - 256.0 KB remain available"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "pool_size: 1024.0 KB, held: 768.0 KB by spilling operators (2 of 2 sharing, \
                 0.0 B in buffers), 0.0 B by others"
            ),
            "{err}"
        );
        assert_eq!(p.to_string(), err[err.find("fair among").unwrap()..]);
    }

    #[test]
    fn a_repartition_takes_what_is_left_and_no_share() {
        let p = pool(100);
        let a = spiller(&p, "a");
        let buffer = spiller(&p, "RepartitionExec[0]");
        buffer.try_grow(10).unwrap();
        // a shares what the buffer does not hold with nobody.
        a.try_grow(90).unwrap();
        assert!(a.try_grow(1).is_err());
        assert!(buffer.try_grow(1).is_err(), "the pool is full");
        buffer.free();
        // A buffer is never idle and never shares: a may grow into what the
        // buffer gave back, and the buffer then finds nothing.
        a.try_grow(10).unwrap();
        assert!(buffer.try_grow(1).is_err());
        a.shrink(5);
        buffer.try_grow(5).unwrap();
        assert_eq!(p.reserved(), 100);
    }

    /// Spills of a grouping of 4 x 60,000 distinct keys in 4 partitions: the
    /// partial stages give up on them (each group is one row), so the final
    /// stages need the memory.
    async fn spills_of_a_grouping(pool: Arc<dyn MemoryPool>) -> Result<(usize, i64)> {
        use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
        use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
        use datafusion::datasource::MemTable;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        use datafusion::physical_plan::collect;
        use datafusion::prelude::{SessionConfig, SessionContext};

        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let partitions = (0..4i64)
            .map(|p| {
                (0..15)
                    .map(|b| {
                        let keys = (0..4000).map(|i| p * 60_000 + b * 4000 + i);
                        RecordBatch::try_new(
                            schema.clone(),
                            vec![
                                Arc::new(Int64Array::from_iter_values(keys.clone())),
                                Arc::new(Int64Array::from_iter_values(keys.map(|k| k % 7))),
                            ],
                        )
                        .unwrap()
                    })
                    .collect()
            })
            .collect();
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(pool)
            .build_arc()
            .unwrap();
        let config = SessionConfig::new().with_target_partitions(4).set_usize(
            "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
            1000,
        );
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let plan = ctx
            .sql("SELECT sum(s) FROM (SELECT k, sum(v) + count(*) AS s FROM t GROUP BY k)")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let out = collect(plan.clone(), ctx.task_ctx()).await?;
        Ok((
            spill_count(&plan),
            out[0].column(0).as_primitive::<Int64Type>().value(0),
        ))
    }

    /// Spills of a plan's operators, all partitions.
    fn spill_count(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> usize {
        let own = plan.metrics().and_then(|m| m.spill_count()).unwrap_or(0);
        own + plan.children().into_iter().map(spill_count).sum::<usize>()
    }

    #[tokio::test]
    async fn a_grouping_whose_partial_stages_gave_up_does_not_spill_for_them() {
        // Each key once: 0 + 1 + ... + 6 repeated, and one count per key.
        let expected = (240_000 / 7) * 21 + (1 + 2 + 3 + 4) + 240_000;
        // At 24 MiB DataFusion's fair pool still counts the four partial
        // stages and the repartition's four buffers, and the final stages
        // spill; here they share the pool among themselves and do not.
        let active = Arc::new(ActiveFairPool::new(24 << 20));
        let ours = spills_of_a_grouping(active.clone()).await.unwrap();
        let fair = spills_of_a_grouping(Arc::new(FairSpillPool::new(24 << 20)))
            .await
            .unwrap();
        assert_eq!((ours.1, fair.1), (expected, expected));
        assert_eq!(ours.0, 0);
        assert!(fair.0 > 0, "the fair pool spilled {} times", fair.0);
        assert_eq!(active.state().buffers_seen, 4, "DataFusion renamed them");
        // Where the fair pool completes by spilling, so does this one.
        for size in [3 << 20, 8 << 20] {
            let (spills, sum) = spills_of_a_grouping(Arc::new(ActiveFairPool::new(size)))
                .await
                .unwrap();
            assert_eq!(sum, expected);
            assert!(spills > 0, "{size}");
        }
    }

    #[test]
    fn infallible_growth_is_counted() {
        let p = pool(100);
        let a = spiller(&p, "a");
        let b = spiller(&p, "b");
        a.grow(120);
        assert_eq!(p.reserved(), 120);
        b.try_grow(50).unwrap();
        assert!(b.try_grow(1).is_err());
        a.shrink(120);
        b.try_grow(50).unwrap();
        assert_eq!(p.reserved(), 100);
    }
}

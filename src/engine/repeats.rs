//! `count_repeats(x)`: how many rows of an integer column repeat a value seen
//! before (NULL counts as one value). It is 0 exactly when
//! `SELECT x FROM t GROUP BY x HAVING COUNT(*) > 1` returns no rows, so a
//! `unique` check on one integer column asks it first and runs its own query
//! only when it finds repeats (see `checks`).
//!
//! The values seen are kept in compressed bitmaps (roaring), one per upper 32
//! bits: ids that come in runs, as order ids do, cost a few bits each and a
//! few nanoseconds to add, where a hash table over ten million keys costs
//! tens of bytes and a cache miss per key. Ids spread over the whole 64-bit
//! range would cost more than a hash table; the accumulator then stops with
//! an error and the check runs its `GROUP BY` query instead.
//!
//! Registered on the local engine only: Ballista's executors do not know it.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, UInt64Array};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::{DataFusionError, Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use roaring::{RoaringBitmap, RoaringTreemap};

/// The function's name in SQL.
pub const NAME: &str = "count_repeats";

/// Past this many bytes per row seen (plus [`SLACK`]), the bitmaps would be
/// larger than a hash table of the same values: the accumulator gives up.
const BYTES_PER_ROW: usize = 32;
const SLACK: usize = 16 * 1024 * 1024;

/// The aggregate function, to register on a session.
pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(CountRepeats {
        signature: Signature::uniform(
            1,
            vec![
                DataType::Int8,
                DataType::Int16,
                DataType::Int32,
                DataType::Int64,
                DataType::UInt8,
                DataType::UInt16,
                DataType::UInt32,
                DataType::UInt64,
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountRepeats {
    signature: Signature,
}

impl AggregateUDFImpl for CountRepeats {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<Repeats>::default())
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new("rows", DataType::UInt64, false)),
            Arc::new(Field::new("nulls", DataType::UInt64, false)),
            Arc::new(Field::new("seen", DataType::Binary, false)),
        ])
    }
}

/// Rows and NULLs counted, and the distinct non-NULL values seen, as u64
/// (an integer's bits: only equality matters).
#[derive(Debug, Default)]
struct Repeats {
    rows: u64,
    nulls: u64,
    seen: BTreeMap<u32, RoaringBitmap>,
    /// Heap held, as of the last measure, and the row count then.
    bytes: usize,
    measured_at: u64,
}

impl Repeats {
    fn add(&mut self, values: impl Iterator<Item = u64>) {
        let mut values = values.peekable();
        while let Some(&first) = values.peek() {
            let high = (first >> 32) as u32;
            let bitmap = self.seen.entry(high).or_default();
            let mut run = 0u64;
            // `extend` keeps the container it last wrote to: values in runs
            // are added without a search each.
            bitmap.extend(
                std::iter::from_fn(|| values.next_if(|v| (v >> 32) as u32 == high))
                    .inspect(|_| run += 1)
                    .map(|v| v as u32),
            );
            self.rows += run;
        }
    }

    fn distinct(&self) -> u64 {
        self.seen.values().map(|b| b.len()).sum()
    }

    /// Measures the heap held, roughly (the containers' bytes and their
    /// headers), and gives up past [`BYTES_PER_ROW`]. Measuring walks every
    /// container, so it is done when the rows have grown by a quarter (or
    /// 64k) since the last time: linear in all.
    fn measure(&mut self, now: bool) -> Result<()> {
        if !now && self.rows - self.measured_at < (self.measured_at / 4).max(65_536) {
            return Ok(());
        }
        self.measured_at = self.rows;
        self.bytes = self
            .seen
            .values()
            .map(|b| {
                let s = b.statistics();
                let data = s.n_bytes_array_containers
                    + s.n_bytes_run_containers
                    + s.n_bytes_bitset_containers;
                data as usize + 48 * s.n_containers as usize + 64
            })
            .sum();
        if self.bytes > SLACK + BYTES_PER_ROW * self.rows as usize {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{NAME}: {} values too scattered for bitmaps ({} bytes)",
                self.rows, self.bytes
            )));
        }
        Ok(())
    }
}

macro_rules! add_as_u64 {
    ($self:ident, $array:ident, $($t:ty),*) => {
        match $array.data_type() {
            $(
                dt if dt == &<$t as datafusion::arrow::datatypes::ArrowPrimitiveType>::DATA_TYPE => {
                    let a = $array.as_primitive::<$t>();
                    if a.null_count() == 0 {
                        $self.add(a.values().iter().map(|&v| v as u64));
                    } else {
                        $self.add(a.iter().flatten().map(|v| v as u64));
                    }
                }
            )*
            other => return internal_err!("{NAME} got a {other} column"),
        }
    };
}

impl Accumulator for Repeats {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = &values[0];
        self.nulls += array.null_count() as u64;
        add_as_u64!(
            self, array, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
            UInt32Type, UInt64Type
        );
        self.measure(false)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let repeats = self.rows - self.distinct() + self.nulls.saturating_sub(1);
        Ok(ScalarValue::UInt64(Some(repeats)))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let treemap = RoaringTreemap::from_bitmaps(self.seen.clone());
        let mut bytes = Vec::with_capacity(treemap.serialized_size());
        treemap
            .serialize_into(&mut bytes)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(vec![
            ScalarValue::UInt64(Some(self.rows)),
            ScalarValue::UInt64(Some(self.nulls)),
            ScalarValue::Binary(Some(bytes)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[0].as_any().downcast_ref::<UInt64Array>();
        let nulls = states[1].as_any().downcast_ref::<UInt64Array>();
        let seen = states[2].as_any().downcast_ref::<BinaryArray>();
        let (Some(rows), Some(nulls), Some(seen)) = (rows, nulls, seen) else {
            return internal_err!("{NAME}: unexpected state types");
        };
        for i in 0..rows.len() {
            self.rows += rows.value(i);
            self.nulls += nulls.value(i);
            let treemap = RoaringTreemap::deserialize_from(seen.value(i))
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            for (high, bitmap) in treemap.bitmaps() {
                *self.seen.entry(high).or_default() |= bitmap;
            }
        }
        self.measure(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray, UInt64Array};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};

    /// `count_repeats(x)` over `t`, whose partitions are `parts`.
    async fn repeats_in(parts: Vec<Vec<ArrayRef>>) -> Result<u64> {
        let ctx = SessionContext::new();
        ctx.register_udaf(udaf());
        let field = Field::new("x", parts[0][0].data_type().clone(), true);
        let schema = Arc::new(Schema::new(vec![field]));
        let batches = parts
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|a| RecordBatch::try_new(schema.clone(), vec![a]).unwrap())
                    .collect()
            })
            .collect();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, batches)?))?;
        let b = ctx
            .sql("SELECT count_repeats(x) FROM t")
            .await?
            .collect()
            .await?;
        Ok(b[0].column(0).as_primitive::<UInt64Type>().value(0))
    }

    fn i64s(v: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    #[tokio::test]
    async fn counts_rows_that_repeat_a_value_worked_by_hand() {
        // 2 once more, 3 twice more.
        let one = |v| repeats_in(vec![vec![v]]);
        assert_eq!(one(i64s(&[1, 2, 2, 3, 3, 3].map(Some))).await.unwrap(), 3);
        assert_eq!(one(i64s(&[Some(5), None])).await.unwrap(), 0);
        // Two NULLs are one repeat, as GROUP BY puts them in one group.
        assert_eq!(one(i64s(&[None, Some(5), None])).await.unwrap(), 1);
        // Same low 32 bits, different high bits; negative numbers.
        let far = 1i64 << 32;
        assert_eq!(
            one(i64s(
                &[5, far + 5, -5, -5, far + 5, i64::MIN, i64::MAX].map(Some)
            ))
            .await
            .unwrap(),
            2
        );
        assert_eq!(
            one(Arc::new(Int32Array::from(vec![7, 7, 7, -1])))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            one(Arc::new(UInt64Array::from(vec![u64::MAX, 0, u64::MAX])))
                .await
                .unwrap(),
            1
        );
        assert_eq!(one(i64s(&[])).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn repeats_across_partitions_and_batches_are_found() {
        // 3 is in both partitions, 4 in two batches of the second.
        let parts = vec![
            vec![i64s(&[1, 2, 3].map(Some))],
            vec![i64s(&[3, 4].map(Some)), i64s(&[4, 5].map(Some))],
        ];
        assert_eq!(repeats_in(parts).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn agrees_with_group_by_on_random_ids() {
        // Ids in runs (as order ids come), scattered ones, and NULLs, with
        // repeats planted, in four partitions; the expected count from a hash map.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut parts = Vec::new();
        let mut all = Vec::new();
        for p in 0..4i64 {
            let mut batches = Vec::new();
            for b in 0..3i64 {
                let v: Vec<Option<i64>> = (0..5000i64)
                    .map(|i| match rng.random_range(0..100) {
                        0 => None,
                        1..=4 => Some(rng.random_range(0..200_000)),
                        5..=9 => Some(rng.random::<i64>() >> rng.random_range(0..40)),
                        _ => Some(p * 1_000_000 + b * 10_000 + i * 2),
                    })
                    .collect();
                all.extend(v.iter().copied());
                batches.push(i64s(&v));
            }
            parts.push(batches);
        }
        let mut counts = std::collections::HashMap::new();
        for v in &all {
            *counts.entry(*v).or_insert(0u64) += 1;
        }
        let expected: u64 = counts.values().map(|c| c - 1).sum();
        assert!(expected > 100, "{expected} repeats planted");
        assert_eq!(repeats_in(parts).await.unwrap(), expected);
    }

    #[tokio::test]
    async fn gives_up_on_ids_too_scattered_for_bitmaps() {
        // Every id in its own upper 32 bits: a bitmap each.
        let v: Vec<Option<i64>> = (0..700_000i64).map(|i| Some(i << 32)).collect();
        let err = repeats_in(vec![vec![i64s(&v)]]).await.unwrap_err();
        assert!(err.to_string().contains("too scattered"), "{err}");
    }

    #[tokio::test]
    async fn gives_up_early_on_ids_spread_over_forty_bits() {
        // About one container per id: given up on after about a million
        // rows, not after walking every container at every batch.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let batches = (0..250)
            .map(|_| {
                let v: Vec<Option<i64>> = (0..8192)
                    .map(|_| Some(rng.random_range(0..1i64 << 40)))
                    .collect();
                i64s(&v)
            })
            .collect();
        let err = repeats_in(vec![batches]).await.unwrap_err();
        assert!(err.to_string().contains("too scattered"), "{err}");
    }

    #[tokio::test]
    async fn refuses_a_column_that_is_not_an_integer() {
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "a"]));
        assert!(repeats_in(vec![vec![s]]).await.is_err());
    }
}

//! Columns that take ownership of their values. polars' `Column::new(name, vec)` copies the vector it
//! is given (`NamedFrom` takes `AsRef<[T]>`): for a build's large columns that is a second copy of
//! every value, written into fresh pages the kernel has to zero first.
use polars::prelude::*;

/// A numeric column holding `values` without copying them.
pub(crate) fn owned<V>(name: PlSmallStr, values: V) -> Column
where
    Series: NamedFromOwned<V>,
{
    Series::from_vec(name, values).into_column()
}

/// A `Datetime(ms)` column holding epoch milliseconds `ms` without copying them.
pub(crate) fn datetime_ms(name: &str, ms: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), ms)
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column()
}

/// A `Date` column holding day numbers since 1970-01-01 without copying them.
pub(crate) fn date(name: &str, days: Vec<i32>) -> Column {
    Int32Chunked::from_vec(name.into(), days)
        .into_date()
        .into_column()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_columns_keep_the_vectors_buffer() {
        let values: Vec<i64> = (0..1000).collect();
        let ptr = values.as_ptr();
        let col = owned("x".into(), values);
        let ca = col.as_materialized_series().i64().unwrap().clone();
        assert_eq!(ca.len(), 1000);
        assert_eq!(ca.get(999), Some(999));
        // The same buffer: nothing was copied.
        assert_eq!(ca.downcast_iter().next().unwrap().values().as_ptr(), ptr);
        let col = owned("y".into(), vec![1.5f64, 2.5]);
        assert_eq!(col.dtype(), &DataType::Float64);
        let col = owned("z".into(), vec![7u32]);
        assert_eq!(col.dtype(), &DataType::UInt32);
        // 2015-06-01 as milliseconds and as a day number (16,587 days after 1970-01-01).
        let ms = datetime_ms("t", vec![1_433_116_800_000]);
        assert_eq!(
            ms.dtype(),
            &DataType::Datetime(TimeUnit::Milliseconds, None)
        );
        let d = date("d", vec![16_587]);
        assert_eq!(d.dtype(), &DataType::Date);
        let day_of_ms = ms
            .cast(&DataType::Date)
            .unwrap()
            .cast(&DataType::Int32)
            .unwrap();
        assert_eq!(day_of_ms.i32().unwrap().get(0), Some(16_587));
        let day = d.cast(&DataType::Int32).unwrap();
        assert_eq!(day.i32().unwrap().get(0), Some(16_587));
    }
}

use super::*;

const DAY_MS: i64 = 86_400_000;

fn events(rows: &[(i64, i64, &str, Option<f64>, bool)]) -> DataFrame {
    let ts = Int64Chunked::from_vec("timestamp".into(), rows.iter().map(|r| r.1).collect())
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "visitor_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            ts,
            Column::new("event".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Column::new(
                "revenue".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "is_bot".into(),
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            ),
        ],
    )
    .unwrap()
}

fn ints(df: &DataFrame, name: &str) -> Vec<i64> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

fn floats(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

// 2024-01-01 is a Monday (day 19723).
const MON: i64 = 19_723 * DAY_MS;

#[test]
fn hand_computed_weeks() {
    // Visitor 1: week 0 view + purchase 10, week 2 purchase 5 (skips week 1).
    // Visitor 2: week 0 view only, never returns. Visitor 3: first seen week 1 (Sunday 23:59 is still
    // week 1, Monday 00:00 is week 2), buys in week 2. Visitor 9 is a bot and left out.
    let df = events(&[
        (1, MON + 3_600_000, "view", None, false),
        (1, MON + 2 * 3_600_000, "transaction", Some(10.0), false),
        (1, MON + 15 * DAY_MS, "transaction", Some(5.0), false),
        (2, MON + DAY_MS, "view", None, false),
        (3, MON + 14 * DAY_MS - 60_000, "view", None, false),
        (3, MON + 14 * DAY_MS, "transaction", Some(7.5), false),
        (9, MON, "transaction", Some(1000.0), true),
    ]);
    let out = retention(&df, CohortBy::FirstVisit, Period::Week, false).unwrap();
    // Cohort week 0 (size 2): offsets 0,1,2; cohort week 1 (size 1): offsets 0,1.
    assert_eq!(ints(&out, "offset"), [0, 1, 2, 0, 1]);
    assert_eq!(ints(&out, "cohort_size"), [2, 2, 2, 1, 1]);
    assert_eq!(ints(&out, "active"), [2, 0, 1, 1, 1]);
    assert_eq!(ints(&out, "buyers"), [1, 0, 1, 0, 1]);
    assert_eq!(floats(&out, "revenue"), [10.0, 0.0, 5.0, 0.0, 7.5]);
    assert_eq!(
        floats(&out, "cumulative_revenue_per_user"),
        [5.0, 5.0, 7.5, 0.0, 7.5]
    );
    let cohort = out
        .column("cohort")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap();
    let cohort: Vec<i32> = cohort.i32().unwrap().into_no_null_iter().collect();
    assert_eq!(cohort, [19_723, 19_723, 19_723, 19_730, 19_730]);

    // By first purchase: visitor 1 in week 0, visitor 3 in week 2; visitor 2 has no cohort.
    let out = retention(&df, CohortBy::FirstPurchase, Period::Week, false).unwrap();
    assert_eq!(ints(&out, "cohort_size"), [1, 1, 1, 1]);
    assert_eq!(ints(&out, "offset"), [0, 1, 2, 0]);
    assert_eq!(ints(&out, "active"), [1, 0, 1, 1]);
    assert_eq!(floats(&out, "revenue"), [10.0, 0.0, 5.0, 7.5]);

    // With bots: visitor 9 joins the week-0 cohort and its revenue.
    let out = retention(&df, CohortBy::FirstVisit, Period::Week, true).unwrap();
    assert_eq!(ints(&out, "cohort_size")[0], 3);
    assert_eq!(floats(&out, "revenue")[0], 1010.0);
}

#[test]
fn months_and_days() {
    // 2024-01-31 and 2024-02-01 are different months, one day apart.
    let jan31 = (19_723 + 30) * DAY_MS;
    let df = events(&[
        (5, jan31, "view", None, false),
        (5, jan31 + DAY_MS, "view", None, false),
        (6, jan31 + DAY_MS, "view", None, false),
    ]);
    let m = retention(&df, CohortBy::FirstVisit, Period::Month, false).unwrap();
    assert_eq!(ints(&m, "offset"), [0, 1, 0]);
    assert_eq!(ints(&m, "active"), [1, 1, 1]);
    let cohort = m.column("cohort").unwrap().cast(&DataType::Int32).unwrap();
    assert_eq!(cohort.i32().unwrap().get(2), Some(19_723 + 31)); // 2024-02-01
    let d = retention(&df, CohortBy::FirstVisit, Period::Day, false).unwrap();
    assert_eq!(ints(&d, "cohort_size"), [1, 1, 1]);
    // A filter that leaves nothing: no purchases at all gives an empty first-purchase table.
    let p = retention(&df, CohortBy::FirstPurchase, Period::Day, false).unwrap();
    assert_eq!(p.height(), 0);
}

/// Deterministic pseudo-random events (splitmix64) for the partition test.
fn synthetic(n_visitors: i64) -> Vec<(i64, i64, &'static str, Option<f64>, bool)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut rows = Vec::new();
    for v in 0..n_visitors {
        let mut t = MON + (next() % (90 * DAY_MS as u64)) as i64;
        let n = 1 + next() % 6;
        for _ in 0..n {
            let r = next() % 10;
            let (kind, rev) = match r {
                0 => ("transaction", Some((next() % 10_000) as f64 / 100.0)),
                1 => ("addtocart", None),
                _ => ("view", None),
            };
            rows.push((v * 7919 % 100_003, t, kind, rev, v % 97 == 0));
            t += (next() % (20 * DAY_MS as u64)) as i64;
        }
    }
    rows
}

#[test]
fn partitions_add_up() {
    let rows = synthetic(3000);
    let whole = events(&rows);
    for period in Period::ALL {
        let cols = EventColumns::from_events(&whole).unwrap();
        let [v1, p1] = cols.partials(period, false);
        let mut v7 = CohortPartial::default();
        let mut p7 = CohortPartial::default();
        for part in 0..7 {
            let sub: Vec<_> = rows.iter().filter(|r| r.0 % 7 == part).cloned().collect();
            let cols = EventColumns::from_events(&events(&sub)).unwrap();
            let [v, p] = cols.partials(period, false);
            v7.merge(&v);
            p7.merge(&p);
        }
        for (one, seven) in [(&v1, &v7), (&p1, &p7)] {
            assert_eq!(one.sizes, seven.sizes);
            assert_eq!(one.last_period, seven.last_period);
            assert_eq!(one.cells.len(), seven.cells.len());
            for (k, a) in &one.cells {
                let b = seven.cells[k];
                assert_eq!((a.active, a.buyers), (b.active, b.buyers));
                // Float sums in another order: equal up to rounding.
                assert!((a.revenue - b.revenue).abs() <= 1e-9 * a.revenue.abs().max(1.0));
            }
            let (f1, f7) = (one.finish(period).unwrap(), seven.finish(period).unwrap());
            assert_eq!(ints(&f1, "active"), ints(&f7, "active"));
            assert_eq!(f1.height(), f7.height());
        }
    }
}

#[test]
fn unsorted_input_gives_the_same_table() {
    let rows = synthetic(500);
    let mut shuffled = rows.clone();
    shuffled.reverse();
    for by in CohortBy::ALL {
        let a = retention(&events(&rows), by, Period::Week, false).unwrap();
        let b = retention(&events(&shuffled), by, Period::Week, false).unwrap();
        assert_eq!(ints(&a, "active"), ints(&b, "active"));
        assert_eq!(ints(&a, "cohort_size"), ints(&b, "cohort_size"));
    }
    let table = retention_table(&events(&rows)).unwrap();
    assert_eq!(table.get_column_names()[..2], ["by", "period"]);
}

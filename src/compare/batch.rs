//! The batch drivers: check the columns once, then compute every row in parallel.

use rayon::prelude::*;

use crate::stats::{Alternative, CoSums, StatsError, Sums};

use super::columns::{ArmSums, Comparisons, MetricKind, RatioArmSums, RowComparison};
use super::rows::{bad_row, compare_means_row, compare_proportions_row, compare_ratio_row};

type Result<T> = std::result::Result<T, StatsError>;

/// Rows per rayon task: one row costs a few microseconds, so smaller tasks would be all overhead.
const MIN_ROWS_PER_TASK: usize = 256;

fn check_lengths(columns: &[(&str, usize)]) -> Result<usize> {
    let rows = columns.first().map_or(0, |c| c.1);
    if let Some((name, len)) = columns.iter().find(|c| c.1 != rows) {
        return Err(StatsError::InvalidArgument(format!(
            "all columns must have the same length: {} has {rows} rows, {name} has {len}",
            columns[0].0
        )));
    }
    Ok(rows)
}

/// The user count of an arm in a row: a whole number >= 0 (counts arrive as float columns).
fn arm_count(n: f64, row: usize, arm: char) -> Result<u64> {
    // 2^53: above it not every whole number is representable, so the count is not exact.
    if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0 {
        Ok(n as u64)
    } else {
        Err(bad_row(
            row,
            arm,
            format_args!("n must be a whole number >= 0, got {n}"),
        ))
    }
}

fn run_rows(
    rows: usize,
    row: impl Fn(usize) -> Result<RowComparison> + Sync + Send,
) -> Result<Comparisons> {
    let results = (0..rows)
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Comparisons::from_rows(&results))
}

/// Compares treatment `b` against control `a` in every row (effects are b − a) from power sums:
/// Welch t test for [`MetricKind::Mean`], R's uncorrected `prop.test` for
/// [`MetricKind::Proportion`] (sums are success counts). Rows run in parallel; the result does not
/// depend on the thread count.
pub fn compare_from_sums(
    control: ArmSums<'_>,
    treatment: ArmSums<'_>,
    kind: MetricKind,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<Comparisons> {
    let rows = check_lengths(&[
        ("n_a", control.n.len()),
        ("sum_a", control.sum.len()),
        ("sum_sq_a", control.sum_sq.len()),
        ("n_b", treatment.n.len()),
        ("sum_b", treatment.sum.len()),
        ("sum_sq_b", treatment.sum_sq.len()),
    ])?;
    crate::stats::check_unit_open(confidence_level, "confidence_level")?;
    let sums = |arm: &ArmSums<'_>, i: usize, name: char| -> Result<Sums> {
        Ok(Sums {
            n: arm_count(arm.n[i], i, name)?,
            sum: arm.sum[i],
            sum_sq: arm.sum_sq[i],
        })
    };
    let compare = match kind {
        MetricKind::Mean => compare_means_row,
        MetricKind::Proportion => compare_proportions_row,
    };
    run_rows(rows, |i| {
        compare(
            sums(&control, i, 'a')?,
            sums(&treatment, i, 'b')?,
            i,
            alternative,
            confidence_level,
        )
    })
}

/// Compares a ratio metric Σx/Σy per user (e.g. revenue per order) between treatment `b` and
/// control `a` in every row, by the delta method (z test, normal intervals; effects are b − a).
pub fn compare_ratio_from_sums(
    control: RatioArmSums<'_>,
    treatment: RatioArmSums<'_>,
    alternative: Alternative,
    confidence_level: f64,
) -> Result<Comparisons> {
    let rows = check_lengths(&[
        ("n_a", control.n.len()),
        ("sum_a", control.sum.len()),
        ("sum_sq_a", control.sum_sq.len()),
        ("sum_den_a", control.sum_den.len()),
        ("sum_sq_den_a", control.sum_sq_den.len()),
        ("sum_num_den_a", control.sum_num_den.len()),
        ("n_b", treatment.n.len()),
        ("sum_b", treatment.sum.len()),
        ("sum_sq_b", treatment.sum_sq.len()),
        ("sum_den_b", treatment.sum_den.len()),
        ("sum_sq_den_b", treatment.sum_sq_den.len()),
        ("sum_num_den_b", treatment.sum_num_den.len()),
    ])?;
    crate::stats::check_unit_open(confidence_level, "confidence_level")?;
    let sums = |arm: &RatioArmSums<'_>, i: usize, name: char| -> Result<CoSums> {
        Ok(CoSums {
            n: arm_count(arm.n[i], i, name)?,
            sum_x: arm.sum[i],
            sum_y: arm.sum_den[i],
            sum_xx: arm.sum_sq[i],
            sum_yy: arm.sum_sq_den[i],
            sum_xy: arm.sum_num_den[i],
        })
    };
    run_rows(rows, |i| {
        compare_ratio_row(
            sums(&control, i, 'a')?,
            sums(&treatment, i, 'b')?,
            i,
            alternative,
            confidence_level,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    fn sums_of(values: &[f64]) -> (f64, f64, f64) {
        (
            values.len() as f64,
            values.iter().sum(),
            values.iter().map(|v| v * v).sum(),
        )
    }

    // scipy.stats.ttest_ind(B, A, equal_var=False) (treatment first) and its
    // confidence_interval(0.95), scipy 1.17.
    #[test]
    fn welch_row_matches_scipy() {
        let a = [5.5, 6.1, 4.9, 7.3, 6.0];
        let b = [3.1, 4.7, 2.2, 5.9, 4.4, 3.8];
        let (na, sa, qa) = sums_of(&a);
        let (nb, sb, qb) = sums_of(&b);
        let r = compare_from_sums(
            ArmSums {
                n: &[na],
                sum: &[sa],
                sum_sq: &[qa],
            },
            ArmSums {
                n: &[nb],
                sum: &[sb],
                sum_sq: &[qb],
            },
            MetricKind::Mean,
            Alternative::TwoSided,
            0.95,
        )
        .unwrap();
        assert!(
            close(r.statistic[0], -2.9435060717783204, 1e-12),
            "{}",
            r.statistic[0]
        );
        assert!(
            close(r.pvalue[0], 0.016877242071722986, 1e-10),
            "{}",
            r.pvalue[0]
        );
        assert!(close(r.df[0], 8.756425930979175, 1e-12), "{}", r.df[0]);
        assert!(close(r.effect_low[0], -3.4431898780614194, 1e-12));
        assert!(close(r.effect_high[0], -0.4434767886052473, 1e-11));
    }

    // R's prop.test(c(120, 100), c(1000, 1000), correct = FALSE) by its formulas: pooled z =
    // 0.02 / sqrt(0.11 * 0.89 * 2e-3) (X-squared 2.0429, p 0.1529), Wald interval with the
    // unpooled se sqrt(0.12 * 0.88e-3 + 0.1 * 0.9e-3); treatment b = 120/1000.
    #[test]
    fn proportion_row_matches_prop_test() {
        let r = compare_from_sums(
            ArmSums {
                n: &[1000.0],
                sum: &[100.0],
                sum_sq: &[100.0],
            },
            ArmSums {
                n: &[1000.0],
                sum: &[120.0],
                sum_sq: &[120.0],
            },
            MetricKind::Proportion,
            Alternative::TwoSided,
            0.95,
        )
        .unwrap();
        let z = 0.02 / (0.11f64 * 0.89 * 2e-3).sqrt();
        assert!(close(r.statistic[0], z, 1e-13), "{}", r.statistic[0]);
        assert!(close(r.statistic[0].powi(2), 2.0429, 1e-4));
        assert!(close(r.pvalue[0], 0.1529, 1e-3));
        let se = (0.12f64 * 0.88e-3 + 0.1 * 0.9e-3).sqrt();
        assert!(close(r.se[0], se, 1e-13));
        let half = 1.959963984540054 * se;
        assert!(
            close(r.effect_low[0], 0.02 - half, 1e-12)
                && close(r.effect_high[0], 0.02 + half, 1e-13)
        );
        assert!(close(r.lift[0], 0.2, 1e-14));
        assert!(r.df[0].is_infinite());
    }

    #[test]
    fn undefined_rows_are_nan_and_bad_rows_are_errors() {
        let n = [0.0, 1.0, 10.0];
        let sum = [0.0, 3.0, 5.0];
        let sum_sq = [0.0, 9.0, 5.0];
        let arm = ArmSums {
            n: &n,
            sum: &sum,
            sum_sq: &sum_sq,
        };
        let r = compare_from_sums(arm, arm, MetricKind::Mean, Alternative::TwoSided, 0.95).unwrap();
        assert!(r.pvalue[0].is_nan() && r.mean_a[0].is_nan());
        assert!(r.pvalue[1].is_nan() && r.mean_a[1] == 3.0 && r.lift[1].is_nan());
        assert!(close(r.pvalue[2], 1.0, 1e-15));
        let bad_sq = [0.0, 9.0, 1.0];
        let bad = ArmSums {
            n: &n,
            sum: &sum,
            sum_sq: &bad_sq,
        };
        let err = compare_from_sums(arm, bad, MetricKind::Mean, Alternative::TwoSided, 0.95);
        assert!(matches!(err, Err(StatsError::InvalidArgument(m)) if m.contains("row 2, arm b")));
        let short = ArmSums {
            n: &n[..2],
            sum: &sum,
            sum_sq: &sum_sq,
        };
        assert!(
            compare_from_sums(short, arm, MetricKind::Mean, Alternative::TwoSided, 0.95).is_err()
        );
        let too_many = ArmSums {
            n: &n,
            sum: &[0.0, 2.0, 5.0],
            sum_sq: &sum_sq,
        };
        assert!(compare_from_sums(
            arm,
            too_many,
            MetricKind::Proportion,
            Alternative::TwoSided,
            0.95
        )
        .is_err());
    }

    // Ratio of sums by hand: numerator x, denominator y per user; the delta-method variance
    // of ratio mean(x)/mean(y) is (Vx − 2rCxy + r²Vy)/(n·ȳ²).
    #[test]
    fn ratio_row_by_hand() {
        let arm = |x: &[f64], y: &[f64]| {
            let n = x.len() as f64;
            let sxy: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
            let (_, sx, qx) = sums_of(x);
            let (_, sy, qy) = sums_of(y);
            (n, sx, qx, sy, qy, sxy)
        };
        let (xa, ya) = ([10.0, 0.0, 35.0, 20.0], [1.0, 0.0, 2.0, 1.0]);
        let (xb, yb) = ([12.0, 30.0, 0.0, 50.0, 8.0], [1.0, 2.0, 0.0, 3.0, 1.0]);
        let a = arm(&xa, &ya);
        let b = arm(&xb, &yb);
        let col = |v: f64| vec![v];
        let (a_cols, b_cols) = (
            [col(a.0), col(a.1), col(a.2), col(a.3), col(a.4), col(a.5)],
            [col(b.0), col(b.1), col(b.2), col(b.3), col(b.4), col(b.5)],
        );
        fn view(c: &[Vec<f64>; 6]) -> RatioArmSums<'_> {
            RatioArmSums {
                n: &c[0],
                sum: &c[1],
                sum_sq: &c[2],
                sum_den: &c[3],
                sum_sq_den: &c[4],
                sum_num_den: &c[5],
            }
        }
        let r = compare_ratio_from_sums(view(&a_cols), view(&b_cols), Alternative::TwoSided, 0.95)
            .unwrap();
        let var = |x: &[f64], y: &[f64]| {
            let n = x.len() as f64;
            let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
            let vx = x.iter().map(|v| (v - mx).powi(2)).sum::<f64>() / (n - 1.0);
            let vy = y.iter().map(|v| (v - my).powi(2)).sum::<f64>() / (n - 1.0);
            let c = x
                .iter()
                .zip(y)
                .map(|(a, b)| (a - mx) * (b - my))
                .sum::<f64>()
                / (n - 1.0);
            let ratio = mx / my;
            (
                ratio,
                (vx - 2.0 * ratio * c + ratio * ratio * vy) / (n * my * my),
            )
        };
        let (ra, va) = var(&xa, &ya);
        let (rb, vb) = var(&xb, &yb);
        assert!(close(r.mean_a[0], ra, 1e-14) && close(r.mean_b[0], rb, 1e-14));
        assert!(
            close(r.se[0], (va + vb).sqrt(), 1e-12),
            "{} {}",
            r.se[0],
            (va + vb).sqrt()
        );
        assert!(close(r.lift[0], rb / ra - 1.0, 1e-13));
    }
}

//! Column inputs (one slice per sufficient statistic and arm) and column outputs of a batch.

use std::str::FromStr;

use crate::stats::StatsError;

/// What the sums of a row describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricKind {
    /// A per-user metric (revenue, orders): Welch t test, t interval.
    #[default]
    Mean,
    /// A 0/1 metric whose sum is the success count (Σx² = Σx is not read): pooled two-proportion
    /// z test with an unpooled Wald interval, as R's `prop.test(correct = FALSE)`.
    Proportion,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Mean => "mean",
            MetricKind::Proportion => "proportion",
        }
    }
}

impl FromStr for MetricKind {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mean" => Ok(MetricKind::Mean),
            "proportion" => Ok(MetricKind::Proportion),
            other => Err(StatsError::InvalidArgument(format!(
                "kind must be 'mean' or 'proportion', got {other:?}"
            ))),
        }
    }
}

/// Power sums of one arm, one entry per row: users, Σx, Σx².
#[derive(Debug, Clone, Copy)]
pub struct ArmSums<'a> {
    pub n: &'a [f64],
    pub sum: &'a [f64],
    pub sum_sq: &'a [f64],
}

/// Power sums of one arm for a ratio metric Σx/Σy (e.g. revenue per order): users, Σx, Σx², Σy,
/// Σy², Σxy, one entry per row.
#[derive(Debug, Clone, Copy)]
pub struct RatioArmSums<'a> {
    pub n: &'a [f64],
    pub sum: &'a [f64],
    pub sum_sq: &'a [f64],
    pub sum_den: &'a [f64],
    pub sum_sq_den: &'a [f64],
    pub sum_num_den: &'a [f64],
}

/// Everything computed for one row. Effects are treatment (b) minus control (a).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowComparison {
    /// Control mean (proportion, or ratio Σx/Σy for ratio metrics).
    pub mean_a: f64,
    /// Treatment mean.
    pub mean_b: f64,
    /// mean_b − mean_a.
    pub effect: f64,
    pub effect_low: f64,
    pub effect_high: f64,
    /// Standard error of `effect` (unpooled for proportions, delta method for ratios).
    pub se: f64,
    /// Welch t, pooled two-proportion z, or delta-method z for ratios.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom; +inf for the normal-theory (z) tests.
    pub df: f64,
    pub pvalue: f64,
    /// mean_b / mean_a − 1.
    pub lift: f64,
    /// Delta-method interval of `lift`.
    pub lift_low: f64,
    pub lift_high: f64,
}

impl RowComparison {
    /// A row with nothing defined.
    pub const NAN: RowComparison = RowComparison {
        mean_a: f64::NAN,
        mean_b: f64::NAN,
        effect: f64::NAN,
        effect_low: f64::NAN,
        effect_high: f64::NAN,
        se: f64::NAN,
        statistic: f64::NAN,
        df: f64::NAN,
        pvalue: f64::NAN,
        lift: f64::NAN,
        lift_low: f64::NAN,
        lift_high: f64::NAN,
    };
}

/// The results of a batch as columns, in input row order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparisons {
    pub mean_a: Vec<f64>,
    pub mean_b: Vec<f64>,
    pub effect: Vec<f64>,
    pub effect_low: Vec<f64>,
    pub effect_high: Vec<f64>,
    pub se: Vec<f64>,
    pub statistic: Vec<f64>,
    pub df: Vec<f64>,
    pub pvalue: Vec<f64>,
    pub lift: Vec<f64>,
    pub lift_low: Vec<f64>,
    pub lift_high: Vec<f64>,
}

impl Comparisons {
    /// Output column names, in the order of [`Comparisons::into_columns`].
    pub const NAMES: [&'static str; 12] = [
        "mean_a",
        "mean_b",
        "effect",
        "effect_low",
        "effect_high",
        "se",
        "statistic",
        "df",
        "pvalue",
        "lift",
        "lift_low",
        "lift_high",
    ];

    pub(crate) fn from_rows(rows: &[RowComparison]) -> Self {
        let column = |f: fn(&RowComparison) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
        Comparisons {
            mean_a: column(|r| r.mean_a),
            mean_b: column(|r| r.mean_b),
            effect: column(|r| r.effect),
            effect_low: column(|r| r.effect_low),
            effect_high: column(|r| r.effect_high),
            se: column(|r| r.se),
            statistic: column(|r| r.statistic),
            df: column(|r| r.df),
            pvalue: column(|r| r.pvalue),
            lift: column(|r| r.lift),
            lift_low: column(|r| r.lift_low),
            lift_high: column(|r| r.lift_high),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.mean_a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mean_a.is_empty()
    }

    /// `(name, column)` pairs in [`Comparisons::NAMES`] order.
    pub fn into_columns(self) -> [(&'static str, Vec<f64>); 12] {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = Self::NAMES;
        [
            (a, self.mean_a),
            (b, self.mean_b),
            (c, self.effect),
            (d, self.effect_low),
            (e, self.effect_high),
            (f, self.se),
            (g, self.statistic),
            (h, self.df),
            (i, self.pvalue),
            (j, self.lift),
            (k, self.lift_low),
            (l, self.lift_high),
        ]
    }
}

//! The alternative hypothesis of a test, in scipy's vocabulary.

use std::fmt;
use std::str::FromStr;

use super::error::{invalid, StatsError};
use super::special::{norm_cdf, norm_isf, norm_sf};

/// Direction of the alternative hypothesis: the effect (first minus second)
/// differs from, is less than, or is greater than the null value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alternative {
    #[default]
    TwoSided,
    Less,
    Greater,
}

impl Alternative {
    /// The scipy spelling: `"two-sided"`, `"less"` or `"greater"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alternative::TwoSided => "two-sided",
            Alternative::Less => "less",
            Alternative::Greater => "greater",
        }
    }

    /// p-value of a standard-normal statistic `z` under this alternative.
    pub(crate) fn normal_pvalue(self, z: f64) -> f64 {
        match self {
            // `f64::min` would turn a NaN p-value into 1.
            Alternative::TwoSided => {
                let p = 2.0 * norm_sf(z.abs());
                if p > 1.0 {
                    1.0
                } else {
                    p
                }
            }
            Alternative::Less => norm_cdf(z),
            Alternative::Greater => norm_sf(z),
        }
    }

    /// Normal-approximation interval `estimate ± z·se`, one-sided when the
    /// alternative is (the open side is infinite).
    pub(crate) fn normal_interval(
        self,
        estimate: f64,
        standard_error: f64,
        confidence_level: f64,
    ) -> Result<(f64, f64), StatsError> {
        super::checks::check_unit_open(confidence_level, "confidence_level")?;
        Ok(match self {
            Alternative::TwoSided => {
                let half = norm_isf((1.0 - confidence_level) / 2.0) * standard_error;
                (estimate - half, estimate + half)
            }
            Alternative::Less => (
                f64::NEG_INFINITY,
                estimate + norm_isf(1.0 - confidence_level) * standard_error,
            ),
            Alternative::Greater => (
                estimate - norm_isf(1.0 - confidence_level) * standard_error,
                f64::INFINITY,
            ),
        })
    }
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alternative {
    type Err = StatsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "two-sided" => Ok(Alternative::TwoSided),
            "less" => Ok(Alternative::Less),
            "greater" => Ok(Alternative::Greater),
            other => Err(invalid(format!(
                "alternative must be 'two-sided', 'less' or 'greater', got {other:?}"
            ))),
        }
    }
}

/// Normal-theory interval `estimate ± z·standard_error` for `alternative`
/// (one-sided alternatives leave the open end infinite).
pub fn normal_confint(
    estimate: f64,
    standard_error: f64,
    confidence_level: f64,
    alternative: Alternative,
) -> Result<(f64, f64), StatsError> {
    alternative.normal_interval(estimate, standard_error, confidence_level)
}

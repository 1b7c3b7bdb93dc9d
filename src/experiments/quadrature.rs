//! Adaptive Gauss–Kronrod integration for the Bayesian comparisons (root finding is
//! `crate::stats::brent`).
#![allow(clippy::excessive_precision)]

use super::error::{ExperimentsError, Result};

// Gauss–Kronrod 7–15 nodes and weights (QUADPACK qk15), kept digit for digit as published.
const XGK: [f64; 8] = [
    0.991_455_371_120_812_639_206_854_697_526_329,
    0.949_107_912_342_758_524_526_189_684_047_851,
    0.864_864_423_359_769_072_789_712_788_640_926,
    0.741_531_185_599_394_439_863_864_773_280_788,
    0.586_087_235_467_691_130_294_144_845_693_013,
    0.405_845_151_377_397_166_906_606_412_076_961,
    0.207_784_955_007_898_467_600_689_403_773_245,
    0.0,
];
const WGK: [f64; 8] = [
    0.022_935_322_010_529_224_963_732_008_058_970,
    0.063_092_092_629_978_553_290_700_663_189_204,
    0.104_790_010_322_250_183_839_876_322_541_518,
    0.140_653_259_715_525_918_745_189_590_510_238,
    0.169_004_726_639_267_902_826_583_426_598_550,
    0.190_350_578_064_785_409_913_256_402_421_014,
    0.204_432_940_075_298_892_414_161_999_234_649,
    0.209_482_141_084_727_828_012_999_174_891_714,
];
const WG: [f64; 4] = [
    0.129_484_966_168_869_693_270_611_432_679_082,
    0.279_705_391_489_276_667_901_467_771_423_780,
    0.381_830_050_505_118_944_950_369_775_488_975,
    0.417_959_183_673_469_387_755_102_040_816_327,
];

/// One G7–K15 panel: (Kronrod estimate, error estimate, rounding part of that estimate). The
/// error is QUADPACK's: the raw |Kronrod − Gauss| is rescaled by (200 |K − G| / resasc)^1.5,
/// which is realistic for smooth integrands, and floored at 50 ε times the integral of |f|.
fn gk15(f: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> (f64, f64, f64) {
    let center = 0.5 * (a + b);
    let half = 0.5 * (b - a);
    let fc = f(center);
    let mut kronrod = fc * WGK[7];
    let mut gauss = fc * WG[3];
    let mut values = [(0.0, 0.0); 7];
    for j in 0..7 {
        let dx = half * XGK[j];
        let (f1, f2) = (f(center - dx), f(center + dx));
        values[j] = (f1, f2);
        kronrod += WGK[j] * (f1 + f2);
        if j % 2 == 1 {
            gauss += WG[j / 2] * (f1 + f2);
        }
    }
    let mean = 0.5 * kronrod;
    let mut resabs = WGK[7] * fc.abs();
    let mut resasc = WGK[7] * (fc - mean).abs();
    for (j, (f1, f2)) in values.iter().enumerate() {
        resabs += WGK[j] * (f1.abs() + f2.abs());
        resasc += WGK[j] * ((f1 - mean).abs() + (f2 - mean).abs());
    }
    let (resabs, resasc) = (resabs * half.abs(), resasc * half.abs());
    let mut err = ((kronrod - gauss) * half).abs();
    if resasc != 0.0 && err != 0.0 {
        err = resasc * (200.0 * err / resasc).powf(1.5).min(1.0);
    }
    let floor = if resabs > f64::MIN_POSITIVE / (50.0 * f64::EPSILON) {
        50.0 * f64::EPSILON * resabs
    } else {
        0.0
    };
    (kronrod * half, err.max(floor), floor)
}

/// Globally adaptive Gauss–Kronrod integration of `f` over consecutive panels given by
/// `breakpoints` (sorted). Panels with the largest error estimate are bisected until the total
/// estimated error is below `abs_tol` or `rel_tol · |integral|`, or until what is left of the
/// estimate is the rounding floor of every panel (so tolerances near ε are honoured as far as
/// double precision allows).
pub fn integrate(
    mut f: impl FnMut(f64) -> f64,
    breakpoints: &[f64],
    abs_tol: f64,
    rel_tol: f64,
) -> Result<f64> {
    const MAX_PANELS: usize = 4000;
    // (a, b, value, error, rounding floor of the error)
    let mut panels: Vec<(f64, f64, f64, f64, f64)> = breakpoints
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let (v, e, r) = gk15(&mut f, w[0], w[1]);
            (w[0], w[1], v, e, r)
        })
        .collect();
    loop {
        let total: f64 = panels.iter().map(|p| p.2).sum();
        let err: f64 = panels.iter().map(|p| p.3).sum();
        let beyond_rounding: f64 = panels.iter().map(|p| p.3 - p.4).sum();
        if !total.is_finite() {
            return Err(ExperimentsError::Numerical(
                "integrand is not finite".into(),
            ));
        }
        let tol = abs_tol.max(rel_tol * total.abs());
        if err <= tol || beyond_rounding <= 0.5 * tol {
            return Ok(total);
        }
        if panels.len() >= MAX_PANELS {
            return Err(ExperimentsError::Numerical(format!(
                "integration did not converge (estimated error {err:e})"
            )));
        }
        let worst = panels
            .iter()
            .enumerate()
            .max_by(|x, y| (x.1 .3 - x.1 .4).total_cmp(&(y.1 .3 - y.1 .4)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let (a, b, _, _, _) = panels[worst];
        let mid = 0.5 * (a + b);
        if mid <= a || mid >= b {
            // The panel cannot be split further in floating point: accept what we have.
            return Ok(total);
        }
        let (v1, e1, r1) = gk15(&mut f, a, mid);
        let (v2, e2, r2) = gk15(&mut f, mid, b);
        panels[worst] = (a, mid, v1, e1, r1);
        panels.push((mid, b, v2, e2, r2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_known_functions() {
        let v = integrate(|x| x.powi(20), &[0.0, 1.0], 0.0, 1e-14).unwrap();
        assert!((v - 1.0 / 21.0).abs() < 1e-16);
        let v = integrate(f64::exp, &[0.0, 0.3, 2.0], 0.0, 1e-14).unwrap();
        assert!((v - (2f64.exp() - 1.0)).abs() < 1e-13);
        // Integrable endpoint singularity: ∫0^1 x^-0.5 = 2.
        let v = integrate(|x| x.powf(-0.5), &[0.0, 1.0], 1e-11, 1e-11).unwrap();
        assert!((v - 2.0).abs() < 1e-9, "{v}");
    }
}

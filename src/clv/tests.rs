use std::path::PathBuf;

use super::*;
use crate::cohorts::ids::days_from_civil;

fn cdnow(file: &str) -> PathBuf {
    let dir = std::env::var_os("SHOPLENS_CDNOW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cdnow"));
    dir.join(file)
}

fn read_csv(file: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(cdnow(file)).expect("CDNOW data in ../shared/data/cdnow");
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[test]
fn bgnbd_reproduces_published_cdnow_fit() {
    let (_, rows) = read_csv("cdnow_customers_summary.csv");
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let tx: Vec<f64> = rows.iter().map(|r| r[2]).collect();
    let t: Vec<f64> = rows.iter().map(|r| r[3]).collect();
    let fit = fit_bgnbd(&x, &tx, &t).unwrap();
    // Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    assert_eq!(round(fit.r, 3), 0.243, "{fit:?}");
    assert_eq!(round(fit.alpha, 3), 4.414, "{fit:?}");
    assert_eq!(round(fit.a, 3), 0.793, "{fit:?}");
    assert_eq!(round(fit.b, 3), 2.426, "{fit:?}");
    assert_eq!(round(fit.log_likelihood, 1), -9582.4, "{fit:?}");
    // The reported log-likelihood is the one of the data in weeks at the reported parameters.
    let ll = bgnbd_log_likelihood((fit.r, fit.alpha, fit.a, fit.b), &x, &tx, &t).unwrap();
    assert!((ll - fit.log_likelihood).abs() < 1e-6);
}

#[test]
fn gamma_gamma_reproduces_published_cdnow_fit() {
    let (header, rows) = read_csv("cdnow_customers_summary_with_transactions.csv");
    assert_eq!(header, ["ID", "x", "t_x", "T", "zbar"]);
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let m: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    let fit = fit_gamma_gamma(&x, &m).unwrap();
    // Fader, Hardie & Lee (2005), iso-value curves: p = 6.25, q = 3.74, gamma = 15.44.
    assert_eq!(round(fit.p, 2), 6.25, "{fit:?}");
    assert_eq!(round(fit.q, 2), 3.74, "{fit:?}");
    // The published gamma is truncated: the maximum of this likelihood is at v = 15.44775 (scipy's
    // Nelder-Mead on the same data, and lifetimes' fit, both give 15.4477), so v agrees within one unit
    // of the published last digit.
    assert!((fit.v - 15.44).abs() < 0.01, "{fit:?}");
    assert!((fit.v - 15.44775).abs() < 1e-3, "{fit:?}");
    assert_eq!(fit.n_customers, x.iter().filter(|&&v| v > 0.0).count());
    let ll = gamma_gamma_log_likelihood((fit.p, fit.q, fit.v), &x, &m).unwrap();
    assert!((ll - fit.log_likelihood).abs() < 1e-6 * ll.abs());
}

fn finite_difference_check(f: impl Fn(&[f64]) -> f64, analytic: &[f64], at: &[f64]) {
    for k in 0..at.len() {
        let h = 1e-6 * at[k].abs().max(1e-3);
        let mut up = at.to_vec();
        let mut down = at.to_vec();
        up[k] += h;
        down[k] -= h;
        let numeric = (f(&up) - f(&down)) / (2.0 * h);
        assert!(
            (numeric - analytic[k]).abs() <= 1e-5 * numeric.abs().max(1.0),
            "param {k}: numeric {numeric} vs analytic {}",
            analytic[k]
        );
    }
}

#[test]
fn analytic_gradients_match_finite_differences() {
    let (_, rows) = read_csv("cdnow_customers_summary_with_transactions.csv");
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let tx: Vec<f64> = rows.iter().map(|r| r[2]).collect();
    let t: Vec<f64> = rows.iter().map(|r| r[3]).collect();
    let m: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    let d = bgnbd::tests_support::prepared(&x, &tx, &t);
    let at = [0.4, 3.0, 1.2, 2.0];
    let g = bgnbd::tests_support::grad(&d, &at);
    finite_difference_check(
        |p| bgnbd_log_likelihood((p[0], p[1], p[2], p[3]), &x, &tx, &t).unwrap(),
        &g,
        &at,
    );
    let at = [5.0, 3.0, 12.0];
    let g = gamma_gamma::tests_support::grad(&x, &m, &at);
    finite_difference_check(
        |p| gamma_gamma_log_likelihood((p[0], p[1], p[2]), &x, &m).unwrap(),
        &g,
        &at,
    );
}

#[test]
fn summary_from_master_reproduces_the_published_sample() {
    // CDNOW_master.txt: customer_id, YYYYMMDD, number_of_cds, dollar_value.
    let text = std::fs::read_to_string(cdnow("CDNOW_master.txt")).unwrap();
    let (mut ids, mut days, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        ids.push(f[0].parse::<i64>().unwrap());
        let d = f[1];
        days.push(days_from_civil(
            d[..4].parse().unwrap(),
            d[4..6].parse().unwrap(),
            d[6..].parse().unwrap(),
        ));
        values.push(f[3].parse::<f64>().unwrap());
    }
    let n = ids.len();
    let ids = Column::new("customer_id".into(), ids);
    let dates = Int32Chunked::from_vec("date".into(), days)
        .into_date()
        .into_column();
    let money = Column::new("value".into(), values);
    // 39-week calibration period: 1997-01-01 .. 1997-09-30.
    let end = days_from_civil(1997, 9, 30);
    let s = rfm_summary(&ids, &dates, Some(&money), Some(end), 7.0, "customer_id").unwrap();
    assert_eq!(s.height(), 23_570);
    assert!(n > s.height());
    let get = |c: &str| -> Vec<f64> {
        s.column(c)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    let (f, r, t) = (get("frequency"), get("recency"), get("T"));
    let id: Vec<i64> = s
        .column("customer_id")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    // The published 1/10 sample renumbers its customers 1..2357 in order of first purchase (then of
    // the master id): it must be an order-preserving sub-sequence of the master's summary in that order.
    let mut order: Vec<usize> = (0..s.height()).collect();
    order.sort_by(|&i, &j| t[j].total_cmp(&t[i]).then(id[i].cmp(&id[j])));
    let (_, sample) = read_csv("cdnow_customers_summary.csv");
    let mut k = 0;
    for &i in &order {
        if k < sample.len() {
            let row = &sample[k];
            if f[i] == row[1] && round(r[i], 2) == row[2] && round(t[i], 2) == row[3] {
                k += 1;
            }
        }
    }
    assert_eq!(
        k,
        sample.len(),
        "only {k} sample customers matched in order"
    );
    // And the published zbar (mean repeat-purchase value) is our monetary_value for customer 1 of the
    // master: one purchase, frequency 0, value 0.
    assert_eq!((f[0], get("monetary_value")[0]), (0.0, 0.0));
}

#[test]
fn summary_conventions_hand_computed() {
    // Customer 7: two purchases on day 0 (one period, 3 + 4), day 3 (10), day 10 (20). Customer 8: day 5
    // only. A purchase after the observation end (day 12) is ignored.
    let ids = Column::new("c".into(), ["7", "8", "7", "7", "7", "7"]);
    let days = Int32Chunked::from_vec("d".into(), vec![0, 5, 0, 3, 10, 13])
        .into_date()
        .into_column();
    let vals = Column::new("v".into(), [3.0, 9.0, 4.0, 10.0, 20.0, 1000.0]);
    let s = rfm_summary(&ids, &days, Some(&vals), Some(12), 1.0, "id").unwrap();
    let get = |c: &str| -> Vec<f64> {
        s.column(c)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    assert_eq!(s.column("id").unwrap().str().unwrap().get(0), Some("7"));
    assert_eq!(get("frequency"), [2.0, 0.0]);
    assert_eq!(get("recency"), [10.0, 0.0]);
    assert_eq!(get("T"), [12.0, 7.0]);
    assert_eq!(get("monetary_value"), [15.0, 0.0]);
}

#[test]
fn predictions_against_simulation_and_hand_values() {
    let bg = BgNbd::from_params(0.243, 4.414, 0.793, 2.426).unwrap();
    // x = 0: alive for sure; horizon 0: no purchases.
    assert_eq!(bg.p_alive(&[0.0], &[0.0], &[30.0]).unwrap(), [1.0]);
    assert_eq!(
        bg.expected_purchases(0.0, &[2.0], &[10.0], &[30.0])
            .unwrap(),
        [0.0]
    );
    // Hand value: x = 2, t_x = 30.43, T = 38.86: 1 / (1 + a/(b+1) ((alpha+T)/(alpha+t_x))^(r+2)).
    let odds = 0.793 / 3.426 * ((4.414f64 + 38.86) / (4.414 + 30.43)).powf(2.243);
    let p = bg.p_alive(&[2.0], &[30.43], &[38.86]).unwrap()[0];
    assert!((p - 1.0 / (1.0 + odds)).abs() < 1e-14);
    // E[X(t)] of a new customer against the mean frequency of simulated customers of age t.
    let (x, _, _) =
        simulate::simulate_bgnbd(400_000, (0.243, 4.414, 0.793, 2.426), (39.0, 39.0), 7).unwrap();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let expected = bg.expected_purchases_new(39.0).unwrap();
    assert!(
        (mean - expected).abs() < 4.0 * sd / (x.len() as f64).sqrt(),
        "simulated {mean} vs formula {expected}"
    );
}

#[test]
fn fits_a_million_simulated_customers() {
    let truth = (0.5, 6.0, 0.7, 2.5);
    let n = 1_000_000;
    let (x, tx, t) = simulate::simulate_bgnbd(n, truth, (26.0, 52.0), 42).unwrap();
    let fit = fit_bgnbd(&x, &tx, &t).unwrap();
    let got = [fit.r, fit.alpha, fit.a, fit.b];
    let want = [truth.0, truth.1, truth.2, truth.3];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 0.05 * w, "fit {fit:?} vs truth {truth:?}");
    }
    let gg_truth = (6.0, 4.0, 15.0);
    let m = simulate::simulate_gamma_gamma(&x, gg_truth, 43).unwrap();
    let gg = fit_gamma_gamma(&x, &m).unwrap();
    for (g, w) in [gg.p, gg.q, gg.v]
        .iter()
        .zip([gg_truth.0, gg_truth.1, gg_truth.2])
    {
        assert!((g - w).abs() < 0.05 * w, "fit {gg:?} vs truth {gg_truth:?}");
    }
}

#[test]
fn rejects_bad_input() {
    assert!(fit_bgnbd(&[1.5], &[1.0], &[2.0]).is_err());
    assert!(fit_bgnbd(&[1.0], &[3.0], &[2.0]).is_err());
    assert!(fit_bgnbd(&[0.0], &[1.0], &[2.0]).is_err());
    assert!(fit_bgnbd(&[0.0, 0.0], &[0.0, 0.0], &[2.0, 3.0]).is_err());
    assert!(fit_gamma_gamma(&[1.0], &[-1.0]).is_err());
    assert!("M".parse::<Unit>().is_err());
}

#[test]
fn customers_table_leaves_t_zero_out_of_the_fit_and_never_fails() {
    // CDNOW's summary plus one customer first seen at the very end of the data (T = 0).
    let (_, rows) = read_csv("cdnow_customers_summary_with_transactions.csv");
    let col = |j: usize| rows.iter().map(|r| r[j]).collect::<Vec<f64>>();
    let (x, tx, t, m) = (col(1), col(2), col(3), col(4));
    let with_new = |v: &[f64], extra: f64| {
        let mut v = v.to_vec();
        v.push(extra);
        v
    };
    let summary = df!(
        "frequency" => with_new(&x, 0.0),
        "recency" => with_new(&tx, 0.0),
        "T" => with_new(&t, 0.0),
        "monetary_value" => with_new(&m, 0.0),
    )
    .unwrap();
    let out = customers_from_summary(&summary).unwrap();
    let get = |name: &str| -> Vec<Option<f64>> {
        out.column(name).unwrap().f64().unwrap().iter().collect()
    };
    let (alive, expected, clv) = (
        get("p_alive"),
        get("expected_purchases_90d"),
        get("clv_365d"),
    );
    // The other customers' predictions are those of the fit without the newcomer.
    let bg = fit_bgnbd(&x, &tx, &t).unwrap();
    let want = bg.p_alive(&x, &tx, &t).unwrap();
    let n = x.len();
    for i in 0..n {
        assert_eq!(alive[i], Some(want[i]));
    }
    assert!(clv[..n].iter().all(Option::is_some));
    // The newcomer: no history, so the posterior is the prior.
    assert_eq!(alive[n], Some(1.0));
    assert_eq!(
        expected[n],
        Some(bg.expected_purchases_new(HORIZON_DAYS).unwrap())
    );
    assert_eq!(clv[n], None);
    // A summary no model can be fitted to gives null predictions, not an error.
    let tiny = df!("frequency" => [0.0, 0.0], "recency" => [0.0, 0.0], "T" => [0.0, 5.0],
        "monetary_value" => [0.0, 0.0])
    .unwrap();
    let out = customers_from_summary(&tiny).unwrap();
    assert_eq!(out.column("p_alive").unwrap().null_count(), 2);
}

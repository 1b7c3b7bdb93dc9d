//! Checks of the written files against the format rules of SPEC §1.1/§1.3, parsed independently
//! of the generator's own data structures.
use super::*;
use std::collections::{HashMap, HashSet};

const START: i64 = 1_430_611_200_000; // 2015-05-03 00:00 UTC
const END: i64 = 1_442_620_800_000; // 2015-09-19 00:00 UTC

fn run(scale: f64, seed: u64) -> (tempfile::TempDir, GenerateSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = GenerateConfig {
        scale,
        seed,
        inject_anomalies: true,
    };
    let summary = generate(dir.path(), &cfg, &|_, _, _| {}).expect("generation succeeds");
    (dir, summary)
}

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("truth.json")).expect("truth.json"))
        .expect("valid JSON")
}

fn lines(dir: &Path, name: &str) -> Vec<String> {
    fs::read_to_string(dir.join(name))
        .expect("file")
        .lines()
        .map(str::to_string)
        .collect()
}

fn line_numbers(v: &serde_json::Value) -> Vec<usize> {
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_u64().expect("line number") as usize)
        .collect()
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Every rule of SPEC §1.4 a raw events.csv line breaks.
fn violations(line: &str) -> Vec<&'static str> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 5 {
        return vec!["wrong_column_count"];
    }
    let mut v = Vec::new();
    if f[0].is_empty() || f[1].is_empty() || f[3].is_empty() {
        v.push("missing_field");
    }
    let ids = [f[1], f[3]];
    if ids
        .iter()
        .any(|s| !s.is_empty() && !s.starts_with('-') && !is_digits(s))
    {
        v.push("non_numeric_id");
    }
    if ids.iter().any(|s| s.starts_with('-')) {
        v.push("negative_id");
    }
    if !f[0].is_empty() && !is_digits(f[0]) {
        v.push("bad_timestamp");
    }
    if is_digits(f[0]) {
        let ts: i64 = f[0].parse().expect("digits");
        if !(START..END).contains(&ts) {
            v.push("timestamp_out_of_range");
        }
    }
    match f[2] {
        "view" | "addtocart" => {
            if !f[4].is_empty() {
                v.push("order_id_on_non_transaction");
            }
        }
        "transaction" => {
            if f[4].is_empty() {
                v.push("transaction_without_order_id");
            }
        }
        _ => v.push("unknown_event_type"),
    }
    v
}

struct Row {
    ts: i64,
    visitor: u64,
    event: String,
    item: u64,
    order: Option<u64>,
}

fn parse(line: &str) -> Row {
    let f: Vec<&str> = line.split(',').collect();
    Row {
        ts: f[0].parse().expect("ts"),
        visitor: f[1].parse().expect("visitor"),
        event: f[2].to_string(),
        item: f[3].parse().expect("item"),
        order: (!f[4].is_empty()).then(|| f[4].parse().expect("order")),
    }
}

/// Clean rows of events.csv (injected lines removed) with their line numbers.
fn clean_rows(dir: &Path) -> Vec<(usize, Row)> {
    let t = truth(dir);
    let mut injected: HashSet<usize> = HashSet::new();
    injected.extend(line_numbers(&t["exact_duplicates"]));
    injected.extend(line_numbers(&t["near_duplicates"]));
    for rule in t["malformed"].as_object().expect("malformed").values() {
        injected.extend(line_numbers(rule));
    }
    lines(dir, "events.csv")
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i + 1, l))
        .filter(|(n, _)| !injected.contains(n))
        .map(|(n, l)| (n, parse(l)))
        .collect()
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let (a, sa) = run(0.01, 42);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let (b, _) = single.install(|| run(0.01, 42));
    let (c, _) = run(0.01, 43);
    for file in &sa.files {
        let name = file.file_name().expect("name");
        assert_eq!(
            fs::read(a.path().join(name)).expect("a"),
            fs::read(b.path().join(name)).expect("b"),
            "{name:?} differs between runs"
        );
    }
    assert_ne!(
        fs::read(a.path().join("events.csv")).expect("a"),
        fs::read(c.path().join("events.csv")).expect("c")
    );
}

#[test]
fn counts_scale_linearly() {
    let (a, _) = run(0.01, 42);
    let (b, _) = run(0.02, 42);
    let (ta, tb) = (truth(a.path()), truth(b.path()));
    let ratio = |k: &str| {
        tb["counts"][k].as_f64().expect("count") / ta["counts"][k].as_f64().expect("count")
    };
    for k in ["visitors", "items_in_properties"] {
        assert!((ratio(k) - 2.0).abs() < 0.01, "{k}: ratio {}", ratio(k));
    }
    for k in ["events_clean", "view", "items_with_events"] {
        assert!((ratio(k) - 2.0).abs() < 0.15, "{k}: ratio {}", ratio(k));
    }
    // About 700 carts, 120 buyers and 180 orders at scale 0.01: sampling noise is 5-10 %.
    assert!(
        (ratio("addtocart") - 2.0).abs() < 0.4,
        "addtocart: ratio {}",
        ratio("addtocart")
    );
    for k in ["buyers", "orders", "transaction"] {
        assert!((ratio(k) - 2.0).abs() < 0.8, "{k}: ratio {}", ratio(k));
    }
    assert_eq!(ta["counts"]["categories"], 1669);
    assert_eq!(tb["counts"]["categories"], 1669);
}

#[test]
fn headers_are_exact() {
    let (dir, summary) = run(0.01, 42);
    let expected = [
        (
            "events.csv",
            "timestamp,visitorid,event,itemid,transactionid",
        ),
        (
            "item_properties_part1.csv",
            "timestamp,itemid,property,value",
        ),
        (
            "item_properties_part2.csv",
            "timestamp,itemid,property,value",
        ),
        ("category_tree.csv", "categoryid,parentid"),
        ("prices.csv", "itemid,price"),
        ("experiments.csv", "experiment,user_id,variant,assigned_at"),
        ("experiment_weights.csv", "experiment,variant,weight"),
    ];
    for (name, header) in expected {
        let content = fs::read_to_string(dir.path().join(name)).expect("file");
        assert!(!content.contains('\r'), "{name} must use LF line endings");
        assert_eq!(content.lines().next(), Some(header), "{name}");
        assert_eq!(
            content.lines().count() as u64 - 1,
            summary.rows[name],
            "{name} row count"
        );
    }
    assert_eq!(summary.files.len(), 8);
}

#[test]
fn injected_lines_point_at_rows_of_their_kind() {
    let (dir, _) = run(0.01, 7);
    let t = truth(dir.path());
    let all = lines(dir.path(), "events.csv");
    let line = |n: usize| all[n - 1].as_str();

    let dups = line_numbers(&t["exact_duplicates"]);
    assert_eq!(dups.len(), 5); // round(460 × 0.01)
    for &n in &dups {
        assert!(violations(line(n)).is_empty());
        assert!(
            (2..n).any(|m| line(m) == line(n)),
            "line {n} has no earlier identical line"
        );
    }
    let near = line_numbers(&t["near_duplicates"]);
    assert_eq!(near.len(), 2); // round(230 × 0.01)
    for &n in &near {
        let r = parse(line(n));
        assert_ne!(r.event, "transaction");
        let earlier = (2..n)
            .filter(|&m| violations(line(m)).is_empty())
            .map(|m| parse(line(m)))
            .find(|o| {
                o.visitor == r.visitor
                    && o.item == r.item
                    && o.event == r.event
                    && (1..1000).contains(&(r.ts - o.ts))
            });
        assert!(earlier.is_some(), "line {n} is not a near-duplicate");
    }
    let malformed = t["malformed"].as_object().expect("malformed");
    assert_eq!(malformed.len(), 9);
    for (rule, v) in malformed {
        let ns = line_numbers(v);
        assert_eq!(ns.len(), 1, "{rule}"); // round(8 × max(0.01, 0.125))
        for n in ns {
            assert_eq!(
                violations(line(n)),
                vec![rule.as_str()],
                "line {n}: {}",
                line(n)
            );
        }
    }
}

#[test]
fn clean_rows_are_valid_sorted_and_match_truth_counts() {
    let (dir, _) = run(0.01, 42);
    let t = truth(dir.path());
    let all = lines(dir.path(), "events.csv");
    let rows = clean_rows(dir.path());
    for (n, _) in &rows {
        assert!(
            violations(&all[n - 1]).is_empty(),
            "line {n}: {}",
            all[n - 1]
        );
    }
    assert!(
        rows.windows(2).all(|w| w[0].1.ts <= w[1].1.ts),
        "clean rows out of time order"
    );
    let c = &t["counts"];
    let count = |e: &str| rows.iter().filter(|(_, r)| r.event == e).count() as u64;
    assert_eq!(c["events_clean"], rows.len() as u64);
    assert_eq!(c["view"], count("view"));
    assert_eq!(c["addtocart"], count("addtocart"));
    assert_eq!(c["transaction"], count("transaction"));
    let distinct = |f: &dyn Fn(&Row) -> Option<u64>| {
        rows.iter()
            .filter_map(|(_, r)| f(r))
            .collect::<HashSet<_>>()
            .len() as u64
    };
    assert_eq!(c["visitors"], distinct(&|r| Some(r.visitor)));
    assert_eq!(
        c["buyers"],
        distinct(&|r| (r.event == "transaction").then_some(r.visitor))
    );
    assert_eq!(c["orders"], distinct(&|r| r.order));
    assert_eq!(c["items_with_events"], distinct(&|r| Some(r.item)));
    assert!(
        c["transaction"].as_u64() > c["orders"].as_u64(),
        "multi-item orders exist"
    );
    let bots: HashSet<u64> = t["bots"]["visitor_ids"]
        .as_array()
        .expect("bots")
        .iter()
        .filter_map(|v| v.as_u64())
        .collect();
    assert_eq!(bots.len(), 1);
    assert_eq!(
        t["bots"]["events"],
        rows.iter()
            .filter(|(_, r)| bots.contains(&r.visitor))
            .count() as u64
    );
}

#[test]
fn sessions_orders_and_bots_behave() {
    let (dir, _) = run(0.01, 42);
    let t = truth(dir.path());
    let bots: HashSet<u64> = t["bots"]["visitor_ids"]
        .as_array()
        .expect("bots")
        .iter()
        .filter_map(|v| v.as_u64())
        .collect();
    let mut by_visitor: HashMap<u64, Vec<Row>> = HashMap::new();
    for (_, r) in clean_rows(dir.path()) {
        by_visitor.entry(r.visitor).or_default().push(r);
    }
    let mut order_lines: HashMap<u64, Vec<(u64, i64)>> = HashMap::new();
    for (visitor, rows) in &by_visitor {
        if bots.contains(visitor) {
            assert!(rows.len() >= 2_500, "bots have thousands of events");
            let fast = rows.windows(2).filter(|w| w[1].ts - w[0].ts <= 333).count();
            assert!(
                fast * 10 >= rows.len() * 9,
                "bot events come at 3 per second or faster"
            );
            continue;
        }
        // Within one session (gaps <= 30 min) every purchased item was viewed and carted before.
        let mut session_start = 0;
        for i in 0..rows.len() {
            if i > 0 && rows[i].ts - rows[i - 1].ts > 30 * 60_000 {
                session_start = i;
            }
            let r = &rows[i];
            if let Some(order) = r.order {
                order_lines
                    .entry(order)
                    .or_default()
                    .push((r.visitor, r.ts));
                let before = &rows[session_start..i];
                assert!(before.iter().any(|o| o.item == r.item && o.event == "view"));
                assert!(before
                    .iter()
                    .any(|o| o.item == r.item && o.event == "addtocart"));
            }
        }
    }
    for lines in order_lines.values() {
        assert!(
            lines.iter().all(|l| *l == lines[0]),
            "an order has one visitor and one timestamp"
        );
    }
}

#[test]
fn experiments_follow_their_definition() {
    let (dir, _) = run(0.02, 42);
    let t = truth(dir.path());
    let mut first_event: HashMap<u64, Vec<i64>> = HashMap::new();
    for (_, r) in clean_rows(dir.path()) {
        first_event.entry(r.visitor).or_default().push(r.ts);
    }
    let mut per_variant: HashMap<(String, String), u64> = HashMap::new();
    for line in lines(dir.path(), "experiments.csv").iter().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let spec = &t["experiments"][f[0]];
        let (start, end) = (
            spec["start_ms"].as_i64().expect("start"),
            spec["end_ms"].as_i64().expect("end"),
        );
        let user: u64 = f[1].parse().expect("user");
        let assigned_at: i64 = f[3].parse().expect("assigned_at");
        let expected = first_event[&user]
            .iter()
            .copied()
            .filter(|&ts| ts >= start)
            .min();
        assert_eq!(expected, Some(assigned_at), "{line}");
        assert!(assigned_at < end);
        assert!(spec["variants"]
            .as_array()
            .expect("variants")
            .iter()
            .any(|v| v == f[2]));
        *per_variant
            .entry((f[0].to_string(), f[2].to_string()))
            .or_default() += 1;
    }
    let n = |e: &str, v: &str| per_variant[&(e.to_string(), v.to_string())] as f64;
    // Planned 50/50; recs_srm loses 5 % of treatment.
    assert!((n("homepage_aa", "a") / n("homepage_aa", "b") - 1.0).abs() < 0.1);
    assert!(n("recs_srm", "treatment") < n("recs_srm", "control"));
    let ec = &t["experiments"]["checkout_redesign"]["expected_conversion"];
    let (p0, p1) = (
        ec["control"].as_f64().expect("p0"),
        ec["treatment"].as_f64().expect("p1"),
    );
    assert!((p1 / p0 - 1.15).abs() < 1e-9);
}

#[test]
fn item_files_are_consistent() {
    let (dir, _) = run(0.01, 42);
    let t = truth(dir.path());
    let tree: HashMap<u64, Option<u64>> = lines(dir.path(), "category_tree.csv")
        .iter()
        .skip(1)
        .map(|l| {
            let (c, p) = l.split_once(',').expect("two fields");
            (
                c.parse().expect("id"),
                (!p.is_empty()).then(|| p.parse().expect("parent")),
            )
        })
        .collect();
    assert_eq!(tree.len(), 1669);
    let roots = tree.values().filter(|p| p.is_none()).count();
    assert!((20..=30).contains(&roots));
    for &c in tree.keys() {
        let (mut node, mut depth) = (c, 1);
        while let Some(p) = tree[&node] {
            node = p;
            depth += 1;
            assert!(depth <= 5, "category {c} deeper than 5");
        }
    }
    let mut categories: HashMap<u64, Vec<(i64, u64)>> = HashMap::new();
    let mut items = HashSet::new();
    let mut rows = 0;
    for part in ["item_properties_part1.csv", "item_properties_part2.csv"] {
        for l in lines(dir.path(), part).iter().skip(1) {
            let f: Vec<&str> = l.splitn(4, ',').collect();
            let ts: i64 = f[0].parse().expect("ts");
            // Sunday 03:00 UTC: days since the epoch ≡ 3 (mod 7) for Sundays.
            assert_eq!(ts.rem_euclid(86_400_000), 3 * 3_600_000);
            assert_eq!(ts.div_euclid(86_400_000).rem_euclid(7), 3);
            let item: u64 = f[1].parse().expect("item");
            items.insert(item);
            rows += 1;
            if f[2] == "categoryid" {
                let c: u64 = f[3].parse().expect("category");
                assert!(tree.contains_key(&c));
                categories.entry(item).or_default().push((ts, c));
            } else if f[2] == "available" {
                assert!(f[3] == "0" || f[3] == "1");
            }
        }
    }
    assert_eq!(items.len() as u64, t["counts"]["items_in_properties"]);
    assert!(
        rows >= 4 * items.len() && rows <= 5 * items.len() + items.len() / 5,
        "{rows} rows"
    );
    let changes = categories.values().filter(|v| v.len() == 2).count() as u64;
    assert_eq!(changes, t["category_changes"]);
    assert!(
        categories
            .values()
            .all(|v| v.iter().map(|x| x.0).min() < Some(START)),
        "category known before events"
    );
    let prices = lines(dir.path(), "prices.csv");
    assert_eq!(prices.len() - 1, items.len());
    for l in prices.iter().skip(1) {
        let (item, price) = l.split_once(',').expect("two fields");
        assert!(items.contains(&item.parse::<u64>().expect("item")));
        let (_, cents) = price.split_once('.').expect("two decimals");
        assert_eq!(cents.len(), 2);
        assert!(price.parse::<f64>().expect("price") > 0.0);
    }
}

#[test]
fn rejects_bad_scales() {
    let dir = tempfile::tempdir().expect("temp dir");
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY, 100.5] {
        let cfg = GenerateConfig {
            scale,
            ..GenerateConfig::default()
        };
        let err = generate(dir.path(), &cfg, &|_, _, _| {}).expect_err("invalid scale");
        assert!(matches!(err, GenerateError::InvalidConfig(_)), "{err}");
    }
}

#[test]
fn reports_unwritable_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not_a_dir");
    fs::write(&file, b"x").expect("write");
    let cfg = GenerateConfig {
        scale: 0.001,
        ..GenerateConfig::default()
    };
    let err = generate(&file.join("out"), &cfg, &|_, _, _| {}).expect_err("cannot create");
    assert!(matches!(err, GenerateError::Io { .. }), "{err}");
}

#[test]
fn without_anomalies_nothing_is_injected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = GenerateConfig {
        scale: 0.01,
        seed: 42,
        inject_anomalies: false,
    };
    generate(dir.path(), &cfg, &|_, _, _| {}).expect("generate");
    let t = truth(dir.path());
    assert_eq!(t["exact_duplicates"]["count"], 0);
    assert_eq!(t["near_duplicates"]["count"], 0);
    assert!(t["bots"]["visitor_ids"]
        .as_array()
        .expect("bots")
        .is_empty());
    assert!(t["outage"].is_null());
    assert_eq!(t["experiments"]["recs_srm"]["srm"], false);
    let n = lines(dir.path(), "events.csv").len() as u64 - 1;
    assert_eq!(t["counts"]["events_clean"], n);
}

/// The generator's output is pinned: a change of these digests is a decision (say which file
/// changed and why in the commit), never a side effect of moving code. Digests are xxh3-64 of
/// each file's bytes at scale 0.01, seed 42.
#[test]
fn output_is_pinned() {
    let (dir, summary) = run(0.01, 42);
    let mut got: Vec<(String, u64)> = summary
        .files
        .iter()
        .map(|f| {
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            let bytes = fs::read(dir.path().join(&name)).expect("file");
            (name, xxhash_rust::xxh3::xxh3_64(&bytes))
        })
        .collect();
    got.sort();
    let want: [(&str, u64); 8] = [
        ("category_tree.csv", 0x732c_299f_a3e0_ca72),
        ("events.csv", 0xe318_598a_5a36_3161),
        ("experiment_weights.csv", 0x8c1b_d114_911d_e27b),
        ("experiments.csv", 0x7393_a7e0_c648_11fa),
        ("item_properties_part1.csv", 0xcddd_781d_79c2_ed8a),
        ("item_properties_part2.csv", 0x40fa_180b_37e7_13b5),
        ("prices.csv", 0xd06c_5e6e_076a_f618),
        // truth.json gained `true_relative_lifts` (issue 8, item 10); before: 0xfc92_836a_ecb0_7b02.
        ("truth.json", 0x7cf6_89ca_10ca_43ec),
    ];
    let got_ref: Vec<(&str, u64)> = got.iter().map(|(n, h)| (n.as_str(), *h)).collect();
    assert_eq!(got_ref, want, "{got:#x?}");
}

/// One assigned user's metrics from assignment on, with the analysis's definitions
/// (`shoplens.analyze`, docs/methodology.md): purchase rows, distinct orders, price sums, sessions
/// split by gaps of more than 30 minutes.
#[derive(Default, Clone, Copy)]
struct UserMetrics {
    conversion: f64,
    revenue: f64,
    orders: f64,
    items: f64,
    sessions: f64,
}

/// Non-bot users of every (experiment, variant), computed from the written files only.
fn experiment_users(dir: &Path) -> HashMap<(String, String), Vec<UserMetrics>> {
    const TIMEOUT_MS: i64 = 30 * 60 * 1000;
    let t = truth(dir);
    let bots: HashSet<u64> = t["bots"]["visitor_ids"]
        .as_array()
        .expect("bots")
        .iter()
        .map(|v| v.as_u64().expect("bot id"))
        .collect();
    let prices: HashMap<u64, f64> = lines(dir, "prices.csv")
        .iter()
        .skip(1)
        .map(|l| {
            let (item, price) = l.split_once(',').expect("two fields");
            (item.parse().expect("item"), price.parse().expect("price"))
        })
        .collect();
    let mut by_visitor: HashMap<u64, Vec<Row>> = HashMap::new();
    for (_, r) in clean_rows(dir) {
        by_visitor.entry(r.visitor).or_default().push(r);
    }
    for rows in by_visitor.values_mut() {
        rows.sort_by_key(|r| r.ts);
    }
    let mut out: HashMap<(String, String), Vec<UserMetrics>> = HashMap::new();
    for line in lines(dir, "experiments.csv").iter().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let user: u64 = f[1].parse().expect("user");
        if bots.contains(&user) {
            continue;
        }
        let assigned_at: i64 = f[3].parse().expect("assigned_at");
        let rows = by_visitor.get(&user).map_or(&[][..], Vec::as_slice);
        let mut m = UserMetrics::default();
        let mut orders = HashSet::new();
        let (mut session, mut last_session_counted, mut previous) = (0usize, None, None);
        for r in rows {
            if previous.is_some_and(|p: i64| r.ts - p > TIMEOUT_MS) {
                session += 1;
            }
            previous = Some(r.ts);
            if r.ts < assigned_at {
                continue;
            }
            if last_session_counted != Some(session) {
                m.sessions += 1.0;
                last_session_counted = Some(session);
            }
            if r.event == "transaction" {
                m.conversion = 1.0;
                m.items += 1.0;
                m.revenue += prices[&r.item];
                orders.insert(r.order.expect("order id"));
            }
        }
        m.orders = orders.len() as f64;
        out.entry((f[0].to_string(), f[2].to_string()))
            .or_default()
            .push(m);
    }
    out
}

/// ln(mean_b / mean_a) of a per-user metric and its delta-method standard error.
fn log_ratio_of_means(
    a: &[UserMetrics],
    b: &[UserMetrics],
    f: fn(&UserMetrics) -> f64,
) -> (f64, f64) {
    let moments = |arm: &[UserMetrics]| {
        let n = arm.len() as f64;
        let mean = arm.iter().map(f).sum::<f64>() / n;
        let var = arm.iter().map(|u| (f(u) - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var / (n * mean * mean))
    };
    let ((ma, va), (mb, vb)) = (moments(a), moments(b));
    ((mb / ma).ln(), (va + vb).sqrt())
}

/// ln(AOV_b / AOV_a) with AOV = Σ revenue / Σ orders over an arm's users, and its delta-method
/// standard error.
fn log_ratio_of_aov(a: &[UserMetrics], b: &[UserMetrics]) -> (f64, f64) {
    let aov = |arm: &[UserMetrics]| {
        let n = arm.len() as f64;
        let mx = arm.iter().map(|u| u.revenue).sum::<f64>() / n;
        let my = arm.iter().map(|u| u.orders).sum::<f64>() / n;
        let r = mx / my;
        let (mut vx, mut vy, mut cxy) = (0.0, 0.0, 0.0);
        for u in arm {
            let (dx, dy) = (u.revenue - mx, u.orders - my);
            vx += dx * dx;
            vy += dy * dy;
            cxy += dx * dy;
        }
        let var_r = (vx - 2.0 * r * cxy + r * r * vy) / (n - 1.0) / (n * my * my);
        (r, var_r / (r * r))
    };
    let ((ra, va), (rb, vb)) = (aov(a), aov(b));
    ((rb / ra).ln(), (va + vb).sqrt())
}

/// Every relative lift truth.json states, per metric, as measured in the data: (experiment,
/// metric, stated, observed, standard error of ln(1 + observed)).
fn measured_lifts(dir: &Path) -> Vec<(String, String, f64, f64, f64)> {
    let t = truth(dir);
    let users = experiment_users(dir);
    let mut out = Vec::new();
    for (name, spec) in t["experiments"].as_object().expect("experiments") {
        let variants = spec["variants"].as_array().expect("variants");
        let control = variants[0].as_str().expect("control");
        let arm = |v: &str| &users[&(name.clone(), v.to_string())][..];
        for (variant, lifts) in spec["true_relative_lifts"].as_object().expect("lifts") {
            for (metric, stated) in lifts.as_object().expect("metrics") {
                let (a, b) = (arm(control), arm(variant));
                let (log_ratio, se) = match metric.as_str() {
                    "aov" => log_ratio_of_aov(a, b),
                    "conversion" => log_ratio_of_means(a, b, |u| u.conversion),
                    "revenue" => log_ratio_of_means(a, b, |u| u.revenue),
                    "orders" => log_ratio_of_means(a, b, |u| u.orders),
                    "items" => log_ratio_of_means(a, b, |u| u.items),
                    "sessions" => log_ratio_of_means(a, b, |u| u.sessions),
                    other => panic!("truth.json states a lift for unknown metric {other}"),
                };
                let stated = stated.as_f64().expect("lift");
                out.push((name.clone(), metric.clone(), stated, log_ratio.exp_m1(), se));
            }
        }
    }
    out
}

/// Every effect truth.json states (injected or induced, per experiment, variant and metric) is
/// what a large generated sample shows: within 4 standard errors on the log scale, and the
/// injected +15 % conversion lift is itself more than 3 standard errors from zero, so the check
/// can tell a lift from none. At scale 1.0 (seeds 42-46) the same measurement gives AOV lifts of
/// -5.6, -1.9, +2.9, -4.9 and -1.9 % (standard error about 2.3 %) around the stated 0.
#[test]
fn stated_effects_hold_in_a_large_sample() {
    let (dir, _) = run(0.3, 42);
    let measured = measured_lifts(dir.path());
    assert_eq!(
        measured.len(),
        3 * 6,
        "every experiment states six metric lifts"
    );
    for (experiment, metric, stated, observed, se) in &measured {
        let z = ((1.0 + observed).ln() - (1.0 + stated).ln()) / se;
        assert!(
            z.abs() < 4.0,
            "{experiment} {metric}: stated {stated}, observed {observed:.4} (z = {z:.2})"
        );
        if experiment == "checkout_redesign" && metric == "conversion" {
            assert!(1.15f64.ln() > 3.0 * se, "sample too small: se {se}");
        }
    }
}

//! Item reference data: the category tree (root and level of every category) and time-versioned item
//! properties, looked up "as of" an event's time.
use hashbrown::HashMap;

use rayon::prelude::*;

use super::idmap::IdMap;

/// The category forest. Level 0 is a root; `root`/`level` are `None` for categories in a cycle.
#[derive(Debug, Default, Clone)]
pub struct CategoryTree {
    pub ids: Vec<i64>,
    pub parent: Vec<Option<i64>>,
    pub root: Vec<Option<i64>>,
    pub level: Vec<Option<u32>>,
    index: IdMap<u32>,
    /// Categories whose parent is not in the tree (treated as roots of their own branch).
    pub unknown_parents: usize,
    pub in_cycle: usize,
}

impl CategoryTree {
    /// Builds the tree from unique `(category, parent)` pairs.
    pub fn new(pairs: Vec<(i64, Option<i64>)>) -> Self {
        const UNSEEN: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        const NO_ROOT: u8 = 3;
        let index: HashMap<i64, usize> = pairs
            .iter()
            .enumerate()
            .map(|(i, &(c, _))| (c, i))
            .collect();
        let n = pairs.len();
        let (ids, parent): (Vec<i64>, Vec<Option<i64>>) = pairs.into_iter().unzip();
        let parent_at: Vec<Option<usize>> = parent
            .iter()
            .map(|p| p.and_then(|p| index.get(&p).copied()))
            .collect();
        let unknown_parents = parent
            .iter()
            .zip(&parent_at)
            .filter(|(p, at)| p.is_some() && at.is_none())
            .count();
        let mut root = vec![None; n];
        let mut level = vec![None; n];
        let mut state = vec![UNSEEN; n];
        let mut in_cycle = 0;
        for start in 0..n {
            if state[start] != UNSEEN {
                continue;
            }
            // Walk up to a resolved ancestor or a root, then resolve the path top-down.
            let mut path = Vec::new();
            let mut node = start;
            loop {
                match state[node] {
                    DONE | NO_ROOT => break,
                    ON_PATH => {
                        // A cycle: its members and everything below them have no root.
                        let first = path.iter().position(|&p| p == node).unwrap_or(0);
                        in_cycle += path.len() - first;
                        for &p in &path {
                            state[p] = NO_ROOT;
                        }
                        path.clear();
                        break;
                    }
                    _ => {}
                }
                state[node] = ON_PATH;
                match parent_at[node] {
                    None => {
                        root[node] = Some(ids[node]);
                        level[node] = Some(0);
                        state[node] = DONE;
                        break;
                    }
                    Some(p) => {
                        path.push(node);
                        node = p;
                    }
                }
            }
            for &child in path.iter().rev() {
                let p = parent_at[child].unwrap_or(child);
                if state[p] == DONE {
                    root[child] = root[p];
                    level[child] = level[p].map(|l| l + 1);
                    state[child] = DONE;
                } else {
                    state[child] = NO_ROOT;
                }
            }
        }
        let index = IdMap::new(ids.iter().enumerate().map(|(i, &c)| (c, i as u32)));
        CategoryTree {
            ids,
            parent,
            root,
            level,
            index,
            unknown_parents,
            in_cycle,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Root and level of `category`, if it is in the tree and not in a cycle.
    pub fn root_level(&self, category: i64) -> (Option<i64>, Option<u32>) {
        match self.index.get(category) {
            Some(i) => (self.root[i as usize], self.level[i as usize]),
            None => (None, None),
        }
    }
}

/// Time-versioned values per item, sorted by (item, time, source order).
#[derive(Debug, Default, Clone)]
pub struct ItemHistory<T> {
    /// (start, len, first value): the first value inline saves a memory access for the common item
    /// with one record.
    index: IdMap<(u32, u32, T)>,
    ts: Vec<i64>,
    values: Vec<T>,
}

impl<T: Copy + Send> ItemHistory<T> {
    /// `rows` are `(item, ts, seq, value)` where `seq` orders rows with equal time (later wins).
    pub fn new(mut rows: Vec<(i64, i64, u64, T)>) -> Self {
        rows.par_sort_unstable_by_key(|r| (r.0, r.1, r.2));
        let mut index = Vec::new();
        let mut ts = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        let mut i = 0;
        while i < rows.len() {
            let item = rows[i].0;
            let start = ts.len() as u32;
            while i < rows.len() && rows[i].0 == item {
                // Equal timestamps: keep the last row in source order only.
                if i + 1 < rows.len() && rows[i + 1].0 == item && rows[i + 1].1 == rows[i].1 {
                    i += 1;
                    continue;
                }
                ts.push(rows[i].1);
                values.push(rows[i].3);
                i += 1;
            }
            index.push((
                item,
                (start, ts.len() as u32 - start, values[start as usize]),
            ));
        }
        ItemHistory {
            index: IdMap::new(index),
            ts,
            values,
        }
    }

    /// Cache hint for a later [`ItemHistory::asof`] of `item`.
    #[inline]
    pub fn prefetch(&self, item: i64) {
        self.index.prefetch(item);
    }

    /// The value in force at `at`: the last one recorded at or before it. An event earlier than the
    /// item's first record takes that first record (the snapshots start after the clickstream does).
    pub fn asof(&self, item: i64, at: i64) -> Option<T> {
        let (start, len, first) = self.index.get(item)?;
        if len == 1 {
            return Some(first);
        }
        let (start, len) = (start as usize, len as usize);
        let times = &self.ts[start..start + len];
        let pos = times.partition_point(|&t| t <= at);
        Some(self.values[start + pos.saturating_sub(1)])
    }

    /// The most recent value of `item`.
    pub fn latest(&self, item: i64) -> Option<T> {
        let (start, len, _) = self.index.get(item)?;
        Some(self.values[start as usize + len as usize - 1])
    }

    pub fn n_items(&self) -> usize {
        self.index.len()
    }

    /// Items whose value changed at least once.
    pub fn n_changed(&self) -> usize
    where
        T: PartialEq,
    {
        self.index
            .values()
            .into_iter()
            .filter(|&(s, l, _)| {
                let v = &self.values[s as usize..(s + l) as usize];
                v.windows(2).any(|w| w[0] != w[1])
            })
            .count()
    }

    pub fn items(&self) -> Vec<i64> {
        self.index.ids()
    }
}

/// Where item prices come from. Never invented: without a source, revenue stays null.
#[derive(Debug, Default)]
pub enum Prices {
    #[default]
    None,
    PerItem(IdMap<f64>),
    History(ItemHistory<f64>),
}

impl Prices {
    pub fn at(&self, item: i64, ts: i64) -> Option<f64> {
        match self {
            Prices::None => None,
            Prices::PerItem(map) => map.get(item),
            Prices::History(h) => h.asof(item, ts),
        }
    }
}

/// Item reference data used to enrich events.
#[derive(Debug, Default)]
pub struct Reference {
    pub tree: CategoryTree,
    pub categories: ItemHistory<i64>,
    pub available: ItemHistory<bool>,
    pub prices: Prices,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_roots_and_levels() {
        // 1 <- 2 <- 3 <- 4 ; 10 (root) ; 20 -> 99 (unknown parent) ; 30 <-> 31 cycle
        let t = CategoryTree::new(vec![
            (4, Some(3)),
            (3, Some(2)),
            (2, Some(1)),
            (1, None),
            (10, None),
            (20, Some(99)),
            (30, Some(31)),
            (31, Some(30)),
        ]);
        assert_eq!(t.root_level(1), (Some(1), Some(0)));
        assert_eq!(t.root_level(2), (Some(1), Some(1)));
        assert_eq!(t.root_level(4), (Some(1), Some(3)));
        assert_eq!(t.root_level(10), (Some(10), Some(0)));
        assert_eq!(t.root_level(20), (Some(20), Some(0)));
        assert_eq!(t.unknown_parents, 1);
        assert_eq!(t.root_level(30), (None, None));
        assert_eq!(t.in_cycle, 2);
        assert_eq!(t.root_level(12345), (None, None));
    }

    #[test]
    fn asof_join_hand_made() {
        // Item 7 is in category 100 from t=10, moves to 200 at t=50; two rows at t=50: later line wins.
        let h = ItemHistory::new(vec![
            (7, 50, 3, 201),
            (7, 10, 1, 100),
            (7, 50, 4, 200),
            (8, 5, 2, 300),
        ]);
        assert_eq!(h.asof(7, 5), Some(100)); // before the first snapshot: the first value
        assert_eq!(h.asof(7, 10), Some(100));
        assert_eq!(h.asof(7, 49), Some(100));
        assert_eq!(h.asof(7, 50), Some(200));
        assert_eq!(h.asof(7, 1000), Some(200));
        assert_eq!(h.asof(9, 1000), None);
        assert_eq!(h.latest(7), Some(200));
        assert_eq!(h.n_changed(), 1);
    }
}

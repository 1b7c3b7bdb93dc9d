//! The category forest: 1,669 categories, about 25 roots, depth up to 5. Independent of scale.
use super::sizes::CATEGORIES;
use crate::rng::{stream, Domain};
use rand::Rng;
use rand_distr::{Distribution, LogNormal};

/// Categories per level (root = level 1); sums to CATEGORIES.
const LEVEL_SIZES: [usize; 5] = [25, 180, 640, 620, 204];
/// Category ids are drawn from 0..ID_SPACE like the real ids (up to 1,698, with gaps).
const ID_SPACE: u32 = 1_699;
/// Share of items filed directly under an inner category rather than a leaf.
const INNER_ITEM_SHARE: f64 = 0.05;

pub(super) struct CategoryTree {
    pub(super) ids: Vec<u32>,
    pub(super) parent: Vec<Option<usize>>,
    leaves: Vec<usize>,
    leaf_cdf: Vec<f64>,
    inner: Vec<usize>,
}

impl CategoryTree {
    pub(super) fn generate(seed: u64) -> Self {
        debug_assert_eq!(LEVEL_SIZES.iter().sum::<usize>(), CATEGORIES);
        let mut rng = stream(seed, Domain::Tree, 0);
        let mut pool: Vec<u32> = (0..ID_SPACE).collect();
        for i in 0..CATEGORIES {
            let j = rng.random_range(i..pool.len());
            pool.swap(i, j);
        }
        let ids = pool[..CATEGORIES].to_vec();
        let mut parent = Vec::with_capacity(CATEGORIES);
        let mut level_start = 0;
        for (level, &size) in LEVEL_SIZES.iter().enumerate() {
            for _ in 0..size {
                parent.push(if level == 0 {
                    None
                } else {
                    let prev = LEVEL_SIZES[level - 1];
                    Some(level_start - prev + rng.random_range(0..prev))
                });
            }
            level_start += size;
        }
        let mut has_child = vec![false; CATEGORIES];
        for p in parent.iter().flatten() {
            has_child[*p] = true;
        }
        let (leaves, inner): (Vec<usize>, Vec<usize>) =
            (0..CATEGORIES).partition(|&c| !has_child[c]);
        // Category sizes are very unequal: log-normal popularity weights.
        let weight = LogNormal::new(0.0, 1.2).expect("constant parameters");
        let mut acc = 0.0;
        let leaf_cdf = leaves
            .iter()
            .map(|_| {
                acc += weight.sample(&mut rng);
                acc
            })
            .collect();
        CategoryTree {
            ids,
            parent,
            leaves,
            leaf_cdf,
            inner,
        }
    }

    /// Node index of a category for a new item: mostly a (weighted) leaf.
    pub(super) fn pick_for_item<R: Rng>(&self, rng: &mut R) -> usize {
        if rng.random_bool(INNER_ITEM_SHARE) {
            return self.inner[rng.random_range(0..self.inner.len())];
        }
        let total = *self.leaf_cdf.last().expect("the tree has leaves");
        let u = rng.random::<f64>() * total;
        self.leaves[self
            .leaf_cdf
            .partition_point(|&c| c <= u)
            .min(self.leaves.len() - 1)]
    }

    /// A different category for an item that is moved: a sibling when one exists.
    pub(super) fn pick_move<R: Rng>(&self, rng: &mut R, from: usize) -> usize {
        let siblings: Vec<usize> = (0..self.ids.len())
            .filter(|&c| {
                c != from && self.parent[c] == self.parent[from] && self.parent[c].is_some()
            })
            .collect();
        if !siblings.is_empty() && rng.random_bool(0.8) {
            return siblings[rng.random_range(0..siblings.len())];
        }
        loop {
            let c = self.pick_for_item(rng);
            if c != from {
                return c;
            }
        }
    }

    pub(super) fn write_csv(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"categoryid,parentid\n");
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_unstable_by_key(|&c| self.ids[c]);
        let mut num = itoa::Buffer::new();
        for c in order {
            buf.extend_from_slice(num.format(self.ids[c]).as_bytes());
            buf.push(b',');
            if let Some(p) = self.parent[c] {
                buf.extend_from_slice(num.format(self.ids[p]).as_bytes());
            }
            buf.push(b'\n');
        }
    }
}

//! Item-level partials of a partitioned build, added up as the partitions come instead of kept per
//! partition. Each partition sees a large part of the catalogue (1.2 M of 4.2 M items at scale 10,
//! about 0.12 GB of counts and first appearances), so keeping every partition's until the merge would
//! grow with the number of partitions; added up by item id they grow only with the catalogue.
use hashbrown::HashMap;

use super::partitioned::PartitionPartial;
use crate::clean::columns::ItemCounts;
use crate::clean::idmap::IdMap;
use crate::kpis::scan::ItemCounts as KpiItemCounts;
use crate::{Error, Result};

/// The (visitor id, time, line) of an item's first event: global item codes follow this order.
pub type FirstEvent = (i64, i64, u64);

/// Item counts of the partitions absorbed so far, by item id.
#[derive(Debug, Default)]
pub struct ItemTotals {
    /// Counts of the clean tables (the `items` table's views, carts, purchases, revenue).
    clean: HashMap<i64, ItemCounts>,
    /// KPI counts (distinct visitors add up: visitor sets are disjoint) and the first event.
    kpi: HashMap<i64, (KpiItemCounts, FirstEvent)>,
}

impl ItemTotals {
    /// Moves the item-level partials of `p` (clean counts, KPI counts, item ids and first events)
    /// into the totals, leaving them empty in `p`. Partitions are absorbed in partition order, so
    /// floating-point revenue is added in the order the merge of kept partials used.
    pub fn absorb(&mut self, p: &mut PartitionPartial) -> Result<()> {
        for (id, c) in std::mem::take(&mut p.item_counts) {
            let ItemCounts {
                views,
                carts,
                purchases,
                revenue,
            } = c;
            let acc = self.clean.entry(id).or_default();
            acc.views += views;
            acc.carts += carts;
            acc.purchases += purchases;
            acc.revenue += revenue;
        }
        let items = std::mem::take(&mut p.kpi.partials.items);
        let ids = std::mem::take(&mut p.kpi.item_ids);
        let first = std::mem::take(&mut p.kpi.item_first);
        if ids.len() != first.len() || items.len() > ids.len() {
            return Err(Error::Internal(format!(
                "partition {}: {} item ids, {} first events, {} item counts",
                p.partition,
                ids.len(),
                first.len(),
                items.len()
            )));
        }
        for (code, (id, key)) in ids.into_iter().zip(first).enumerate() {
            let c = items.get(code).copied().unwrap_or_default();
            let (acc, at) = self
                .kpi
                .entry(id)
                .or_insert_with(|| (KpiItemCounts::default(), key));
            *at = (*at).min(key);
            acc.add(&c);
        }
        Ok(())
    }

    /// The clean tables' item counts.
    pub fn clean_counts(&mut self) -> IdMap<ItemCounts> {
        IdMap::new(std::mem::take(&mut self.clean))
    }

    /// Item ids in order of their first event (the global item codes) and their KPI counts.
    pub fn kpi_in_code_order(&mut self) -> (Vec<i64>, Vec<KpiItemCounts>) {
        let mut order: Vec<(FirstEvent, i64, KpiItemCounts)> = std::mem::take(&mut self.kpi)
            .into_iter()
            .map(|(id, (c, key))| (key, id, c))
            .collect();
        order.sort_unstable_by_key(|(key, id, _)| (*key, *id));
        order.into_iter().map(|(_, id, c)| (id, c)).unzip()
    }
}

//! One clean clickstream row and its CSV form.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum EventKind {
    View,
    AddToCart,
    Transaction,
}

impl EventKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::AddToCart => "addtocart",
            EventKind::Transaction => "transaction",
        }
    }
}

pub(super) const NO_ORDER: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(super) struct Event {
    pub(super) ts: i64,
    pub(super) visitor: u32,
    /// Position in the visitor's own history: breaks timestamp ties in causal order
    /// (view before cart before transaction) and makes the sort key unique. A visitor has at most
    /// about 11,000 events (61 sessions of at most 182) and a bot at most 6,000, so u16 suffices
    /// and keeps the event at 24 bytes.
    pub(super) seq: u16,
    pub(super) item: u32,
    /// Order number (provisional per chunk, then final), NO_ORDER except on transactions.
    pub(super) order: u32,
    pub(super) kind: EventKind,
}

impl Event {
    pub(super) fn sort_key(&self) -> (i64, u32, u16) {
        (self.ts, self.visitor, self.seq)
    }

    /// Appends `timestamp,visitorid,event,itemid,transactionid\n`.
    pub(super) fn write_csv(&self, buf: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        buf.extend_from_slice(num.format(self.ts).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(self.visitor).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(self.kind.as_str().as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(self.item).as_bytes());
        buf.push(b',');
        if self.order != NO_ORDER {
            buf.extend_from_slice(num.format(self.order).as_bytes());
        }
        buf.push(b'\n');
    }
}

//! Validation, quarantine, de-duplication, sessions, bot flags and enrichment of clickstream events.
pub mod columns;
pub mod config;
pub mod idmap;
pub mod items;
pub mod pipeline;
pub mod rules;
pub mod tables;
pub mod validate;

pub use config::CleanConfig;
pub use items::{Prices, Reference};
pub use pipeline::{
    clean_events, clean_events_with, ChunkFrames, ChunkSink, CleanChunks, CleanEvents, EventSource,
};
pub use rules::{EventType, Rule};

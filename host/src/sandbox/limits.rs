//! What one rule instance may use, and the store limiter that enforces memory, tables and
//! instances. Limits are set per tenant; the defaults suit rules that match and aggregate.

use wasmtime::ResourceLimiter;

/// One tenant's limits on each of its rule instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one call into a rule may take, in milliseconds. A predicate over a batch
    /// of 256 events takes well under a millisecond; a call that runs 100 ms is stuck.
    pub cpu_ms: u64,
    /// Linear memory of one instance, all its memories together, in MiB. A rule holds one
    /// batch and its compiled patterns; 64 MiB is ample and keeps a thousand instances within
    /// a server's memory.
    pub memory_mib: u64,
    /// Elements of one table. Rust guests need a few hundred function references.
    pub table_elements: u64,
    /// Core instances, tables and memories a component may create. A Rust guest with its WASI
    /// adapter has fewer than ten instances; a Python guest (componentize-py) links its
    /// interpreter and libraries as a few dozen.
    pub instances: u32,
    pub tables: u32,
    pub memories: u32,
    /// Bytes of everything `describe` returns (text of metadata and declarations).
    pub describe_bytes: u64,
    /// Bytes of a rule's stdout and of its stderr kept per call for the log; the rest is
    /// counted and dropped.
    pub output_bytes: u64,
    /// Consecutive failed batches after which a rule is quarantined.
    pub quarantine_after: u32,
    /// Batches a rule skips the first time it is quarantined; doubles each time after, up to
    /// [`MAX_QUARANTINE_BATCHES`].
    pub quarantine_batches: u32,
}

/// The longest quarantine, in batches.
pub const MAX_QUARANTINE_BATCHES: u32 = 4096;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_ms: 100,
            memory_mib: 64,
            table_elements: 100_000,
            instances: 128,
            tables: 128,
            memories: 16,
            describe_bytes: 1 << 20,
            output_bytes: 4096,
            quarantine_after: 3,
            quarantine_batches: 4,
        }
    }
}

impl Limits {
    /// The text `vigil run --help` shows: each limit and its default.
    pub fn describe_defaults() -> String {
        let d = Limits::default();
        format!(
            "CPU time per call {} ms; memory per instance {} MiB; {} table elements, {} \
             instances, {} tables, {} memories per instance; describe result {} KiB; rule \
             output kept in the log {} bytes per stream and call; quarantine after {} \
             consecutive failed batches, for {} batches, doubling each time",
            d.cpu_ms,
            d.memory_mib,
            d.table_elements,
            d.instances,
            d.tables,
            d.memories,
            d.describe_bytes / 1024,
            d.output_bytes,
            d.quarantine_after,
            d.quarantine_batches
        )
    }
}

/// Which limit a call ran into, noted by the limiter so the trap that follows can be named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Memory,
    TableElements,
}

/// Enforces [`Limits`] on one store. Denied growth makes `memory.grow` fail, which a Rust
/// guest turns into an abort; the limiter remembers why, so the host reports the limit and not
/// an opaque `unreachable`.
pub struct Limiter {
    memory_bytes: usize,
    memory_used: usize,
    table_elements: usize,
    instances: usize,
    tables: usize,
    memories: usize,
    exceeded: Option<Exceeded>,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        Limiter {
            memory_bytes: usize::try_from(limits.memory_mib << 20).unwrap_or(usize::MAX),
            memory_used: 0,
            table_elements: usize::try_from(limits.table_elements).unwrap_or(usize::MAX),
            instances: limits.instances as usize,
            tables: limits.tables as usize,
            memories: limits.memories as usize,
            exceeded: None,
        }
    }

    /// The limit hit since the last call, if any; clears it.
    pub fn take_exceeded(&mut self) -> Option<Exceeded> {
        self.exceeded.take()
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory_bytes {
            self.exceeded = Some(Exceeded::Memory);
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.exceeded = Some(Exceeded::TableElements);
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

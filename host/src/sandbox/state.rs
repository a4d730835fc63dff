//! The per-instance store data: a WASI context that grants nothing real, the limiter, and the
//! bounded output streams.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView,
};

use super::limits::{Limiter, Limits};
use super::output::BoundedOutput;

/// What a rule instance's store holds.
pub struct RuleState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub stdout: BoundedOutput,
    pub stderr: BoundedOutput,
}

impl RuleState {
    /// No files, environment, arguments, network or stdin; output is kept up to a bound for
    /// the log; clocks stand at the epoch and random bytes are a fixed cycle, so a rule cannot
    /// observe the host and its results depend on its inputs alone.
    pub fn new(limits: &Limits) -> Self {
        let stdout = BoundedOutput::new(limits.output_bytes);
        let stderr = BoundedOutput::new(limits.output_bytes);
        let wasi = WasiCtx::builder()
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(Deterministic::new(vec![0x5a]))
            .insecure_random(Deterministic::new(vec![0xa5]))
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        RuleState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            stdout,
            stderr,
        }
    }
}

impl WasiView for RuleState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A clock that never moves: a rule reads event time from the host, never a clock.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

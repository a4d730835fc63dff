//! Vigil runs SIEM detection rules as sandboxed WebAssembly components.
//!
//! The pipeline, in the order an event takes it: [`input`] reads lines, [`normalize`] turns them
//! into flat [`event::Event`]s, the [`runtime`] routes each tenant's events in batches to its
//! [`detector`]s, which call the [`rule`] components, order matches by event time, keep a
//! [`window`] per group and open [`incident`]s. Around it, the [`sandbox`] owns the engine and
//! what a rule may touch and its limits, [`config`] reads the tenants file, and [`notice`]
//! carries what a run reports besides incidents. The [`server`] runs all of it as a service:
//! [`swap`] prepares changed rules away from the event path, [`checkpoint`] keeps the state
//! across restarts.

pub mod checkpoint;
pub mod config;
pub mod detector;
pub mod event;
pub mod incident;
pub mod input;
pub mod normalize;
pub mod notice;
pub mod rule;
pub mod runtime;
pub mod sandbox;
pub mod server;
pub mod swap;
pub mod window;

//! Vigil's integration tests: real rule components, real Windows events, incidents out.
//!
//! One binary for the whole workspace (link time matters); a module per feature.

mod cli;
mod contract;
mod inputs;
mod paexec;
mod pdk;
mod sandbox;
mod serve;
mod support;
mod windows;

//! Paths of the guest rule components the tests use, built by this crate's build script.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

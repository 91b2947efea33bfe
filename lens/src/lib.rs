//! The PgDumpLens domain. No Kubernetes and no HTTP here: the operator and the API are adapters
//! over what this crate does.

pub mod browse;
pub mod conninfo;
pub mod console;
pub mod diff;
pub mod dump;
pub mod er;
pub mod fetch;
pub mod lifecycle;
pub mod postgres;
pub mod process;
pub mod relations;
pub mod restore;
pub mod sandbox;
pub mod schema;
pub mod search;
pub mod sql;
pub mod store;
pub mod suggest;
#[cfg(feature = "testing")]
pub mod testing;
pub mod uploads;

//! The PgDumpLens domain. No Kubernetes and no HTTP here: the operator and the API are adapters
//! over what this crate does.

pub mod postgres;
#[cfg(feature = "testing")]
pub mod testing;

//! Kubernetes: a `Lab` custom resource and an operator that runs it as one privileged
//! pod per shard (issue 13).
//!
//! - [`crd`]: the `Lab` resource (`topolab.io/v1alpha1`) and its status;
//! - [`objects`]: every object topolab writes, as pure functions (golden-tested);
//! - [`operator`]: the reconcile loop (`topolab k8s operator`);
//! - [`placement`]: pods as the planner's machines.
//!
//! Tested with golden JSON and a mocked API server only; never run against a live
//! cluster here (README.md, "Kubernetes").

pub mod crd;
pub mod objects;
pub mod operator;
pub mod placement;

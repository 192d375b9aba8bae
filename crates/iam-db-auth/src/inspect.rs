//! What the engine would use, for callers that report on it rather than sign with it
//! (`iam-db-auth doctor`): the credentials the default chain (or a profile) answers with now.

use crate::credentials::AwsCredentials;
use crate::error::Result;
use std::sync::Arc;

/// The credentials a token request with `profile` (`None`: the default chain, honouring
/// `AWS_PROFILE`) would be signed with now: the engine's own lookup, with its sources, order,
/// bounds and reuse. Blocks as [`token_for`](crate::token_for) does while it looks them up
/// (at most the credential lookup bound). Thread-safe.
pub fn current_credentials(profile: Option<&str>) -> Result<Arc<AwsCredentials>> {
    crate::runtime::core().credentials(profile)
}

/// The region the configuration gives when a request names none and its endpoint carries none:
/// `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region` (the engine's order).
pub fn configured_region(profile: Option<&str>) -> Result<Option<String>> {
    crate::region::configured_region(profile)
}

/// How a profile selection reads in messages: `'name'`, `'name' (AWS_PROFILE)`, `'default'`.
pub fn profile_label(profile: Option<&str>) -> String {
    crate::region::profile_label(profile).into_owned()
}

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

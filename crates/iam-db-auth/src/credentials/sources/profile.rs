//! The shared config and credentials files for the selected profile: static keys, SSO,
//! assume-role with `source_profile`, `credential_process`, web identity in a profile. Its
//! builder, and the slot that rebuilds it when the files change or after it failed:
//! aws-config's profile provider parses the files once and keeps its first failure for ever.

use super::Source;
use crate::credentials::files::{FilesStamp, SharedContents};
use crate::log::{Level, log_at};
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use std::sync::{Arc, Mutex};

mod chained;

/// The profile source for `profile` (`None`: `AWS_PROFILE`, else `default`), built from the
/// files' contents as read now; a file that cannot be read makes a source that fails saying so.
fn build(profile: Option<&str>) -> Source {
    let aws_profile = std::env::var("AWS_PROFILE").ok();
    let label = label(profile, aws_profile.as_deref());
    let contents = match SharedContents::read() {
        Ok(contents) => contents,
        Err(problem) => {
            return Source::new(label, SharedCredentialsProvider::new(Unreadable(problem)));
        }
    };
    let mut files = contents.profile_files();
    let selected = inspect(&files, profile);
    if let Some(problem) = selected.token_file.and_then(|path| {
        super::web_identity::token_file_problem(Some(path.into()), "web_identity_token_file")
    }) {
        return Source::new(label, SharedCredentialsProvider::new(Unreadable(problem)));
    }
    if let Some(command) = selected.process {
        return Source::new(
            label,
            SharedCredentialsProvider::new(super::process::CredentialProcess::new(&command)),
        );
    }
    let config = super::provider_config(profile);
    let mut builder = ProfileFileCredentialsProvider::builder().configure(&config);
    if let Some(chained) = selected.chained_process
        && let Some(handed_over) = chained::hand_over(&contents, &chained, profile)
    {
        files = handed_over;
        builder = builder.with_custom_provider(
            chained::PROVIDER_NAME,
            super::process::CredentialProcess::new(&chained.command),
        );
    }
    let mut builder = builder.profile_files(files);
    if let Some(name) = profile {
        builder = builder.profile_name(name);
    }
    Source::new(label, SharedCredentialsProvider::new(builder.build()))
}

/// What the selected profile asks for that we handle ourselves.
#[derive(Default)]
struct Selected {
    /// Its `credential_process`, when that is the profile's own source (no role, SSO, web
    /// identity or login session before it in aws-config's order): we run it ourselves,
    /// bounded (`process.rs`).
    process: Option<String>,
    /// Its `web_identity_token_file`, checked with the bounded reader before aws-config reads it.
    token_file: Option<String>,
    /// A `credential_process` at the end of its roles' `source_profile` chain: we run that
    /// too (`chained.rs`), and aws-config assumes the roles with what it printed.
    chained_process: Option<chained::ChainedProcess>,
}

/// The selected profile's settings that we handle ourselves.
#[allow(deprecated)] // aws-config's alias of aws-runtime's `EnvConfigFiles`
fn inspect(
    files: &aws_config::profile::profile_file::ProfileFiles,
    profile: Option<&str>,
) -> Selected {
    let Some(set) = parse(files, profile) else {
        return Selected::default();
    };
    let Some(section) = set.get_profile(set.selected_profile()) else {
        return Selected::default();
    };
    // A role or another source comes before a profile's own process in aws-config's order.
    let process = if has_any(section, &[&ROLE_CHAIN, &OTHER_SOURCES]) {
        None
    } else {
        section.get("credential_process").map(str::to_string)
    };
    Selected {
        process,
        token_file: section.get("web_identity_token_file").map(str::to_string),
        chained_process: chained::find(&set, section),
    }
}

/// Settings that give a profile its credentials from a source other than its own keys, a role on
/// another profile or a `credential_process`.
const OTHER_SOURCES: [&str; 8] = [
    "credential_source",
    "web_identity_token_file",
    "sso_account_id",
    "sso_region",
    "sso_role_name",
    "sso_start_url",
    "sso_session",
    "login_session",
];

/// Settings that make a profile a role assumed with another profile's credentials.
const ROLE_CHAIN: [&str; 2] = ["role_arn", "source_profile"];

/// A profile's own keys.
const STATIC_KEYS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Whether `profile` sets any of the keys in `lists`.
#[allow(deprecated)] // aws-config's alias of aws-runtime's `Profile`
fn has_any(profile: &aws_config::profile::Profile, lists: &[&[&str]]) -> bool {
    lists
        .iter()
        .flat_map(|keys| keys.iter())
        .any(|key| profile.get(key).is_some())
}

/// The profiles in `files` (contents only: the parser reads no file, so it answers on the first
/// poll), with `profile` selected (`None`: `AWS_PROFILE`, else `default`).
#[allow(deprecated)] // aws-config's aliases of aws-runtime's types
fn parse(
    files: &aws_config::profile::profile_file::ProfileFiles,
    profile: Option<&str>,
) -> Option<aws_config::profile::ProfileSet> {
    use aws_types::os_shim_internal::{Env, Fs};
    use futures_util::FutureExt as _;
    let override_name = profile.map(|p| std::borrow::Cow::Owned(p.to_string()));
    aws_config::profile::parser::load(&Fs::real(), &Env::real(), files, override_name)
        .now_or_never()?
        .ok()
}

/// The source when a shared file cannot be read: it fails with the reason.
#[derive(Debug)]
struct Unreadable(String);

impl ProvideCredentials for Unreadable {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::invalid_configuration(
            self.0.clone(),
        )))
    }
}

/// The source's name in messages: the profile asked for, else `AWS_PROFILE`'s, else `default`.
fn label(profile: Option<&str>, aws_profile: Option<&str>) -> String {
    match (profile, aws_profile) {
        (Some(name), _) => format!("profile '{name}'"),
        (None, Some(name)) if !name.is_empty() => format!("profile '{name}' (AWS_PROFILE)"),
        (None, _) => "profile 'default'".to_string(),
    }
}

/// The profile source as last built, and the state of the files it was built from.
#[derive(Default)]
pub(crate) struct ProfileSlot(Mutex<Option<(FilesStamp, Arc<Source>)>>);

impl ProfileSlot {
    /// The source for the files as they are now: the one kept, unless they changed since it
    /// was built (or it was forgotten after a failure).
    pub(crate) fn current(
        &self,
        profile: Option<&str>,
        rt: &tokio::runtime::Runtime,
    ) -> Arc<Source> {
        let stamp = FilesStamp::now();
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((built_from, source)) = slot.as_ref() {
            if *built_from == stamp {
                return source.clone();
            }
            log_at!(
                Level::Debug,
                "credentials: the shared config/credentials files changed; reading them again"
            );
        }
        let source = {
            let _guard = rt.enter();
            Arc::new(build(profile))
        };
        *slot = Some((stamp, source.clone()));
        source
    }

    /// Forgets the kept source if it is `source`, so the next lookup builds it again.
    pub(crate) fn forget(&self, source: &Source) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|(_, kept)| std::ptr::eq(&**kept, source))
        {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_names_the_profile_that_is_read() {
        assert_eq!(label(Some("corp"), Some("other")), "profile 'corp'");
        assert_eq!(label(None, Some("dev")), "profile 'dev' (AWS_PROFILE)");
        assert_eq!(label(None, Some("")), "profile 'default'");
        assert_eq!(label(None, None), "profile 'default'");
    }

    #[test]
    fn the_slot_keeps_its_source_until_forgotten() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let slot = ProfileSlot::default();
        let first = slot.current(Some("corp"), &rt);
        assert!(Arc::ptr_eq(&first, &slot.current(Some("corp"), &rt)));
        let stranger = Source::new("other".into(), first.provider.clone());
        slot.forget(&stranger);
        assert!(
            Arc::ptr_eq(&first, &slot.current(Some("corp"), &rt)),
            "not the kept one"
        );
        slot.forget(&first);
        assert!(
            !Arc::ptr_eq(&first, &slot.current(Some("corp"), &rt)),
            "built again"
        );
    }
}

//! The shared config and credentials files for the selected profile: static keys, SSO,
//! assume-role with `source_profile`, `credential_process`, web identity in a profile. Its
//! builder, and the slot that rebuilds it when the files change or after it failed:
//! aws-config's profile provider parses the files once and keeps its first failure for ever.

use super::Source;
use crate::credentials::files::FilesStamp;
use crate::log::{Level, log_at};
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use std::sync::{Arc, Mutex};

/// The profile source for `profile` (`None`: `AWS_PROFILE`, else `default`).
fn build(profile: Option<&str>) -> Source {
    let config = super::provider_config(profile);
    let mut builder = ProfileFileCredentialsProvider::builder().configure(&config);
    if let Some(name) = profile {
        builder = builder.profile_name(name);
    }
    let aws_profile = std::env::var("AWS_PROFILE").ok();
    Source::new(
        label(profile, aws_profile.as_deref()),
        SharedCredentialsProvider::new(builder.build()),
    )
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

//! A `credential_process` behind a role: `[profile app] role_arn, source_profile = base` with
//! `[profile base] credential_process = tool`. aws-config would run `tool` itself, and leave it
//! running when the lookup's bound ends it (it neither kills nor caps it). We run it instead,
//! bounded (`process.rs`), and let aws-config assume the roles with what it printed: the last
//! role's `source_profile = base` becomes `credential_source = <our provider>` in the contents
//! handed to aws-config (a named credential source is aws-config's own seam for this).
//!
//! Only plain chains are taken over: each hop has `role_arn` and `source_profile` and nothing
//! that aws-config would prefer (static keys, SSO, web identity, a credential source); the base
//! has `credential_process` and nothing else that makes credentials. Anything else stays as
//! aws-config reads it, and so does a chain whose rewrite does not read back as intended.

use super::{OTHER_SOURCES, ROLE_CHAIN, STATIC_KEYS, has_any};
use crate::credentials::files::SharedContents;

/// The name of our provider as a `credential_source` (aws-config compares them lower-cased).
pub(super) const PROVIDER_NAME: &str = "iamdbauthcredentialprocess";

/// At most this many roles between the selected profile and the base.
const MAX_HOPS: usize = 8;

/// A chain ending in a `credential_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ChainedProcess {
    /// The last role: the profile whose `source_profile` names the base.
    pub(super) hop: String,
    /// The base's `credential_process`.
    pub(super) command: String,
}

/// The chain from `selected`, if it is a plain one ending in a `credential_process`.
#[allow(deprecated)] // aws-config's aliases of aws-runtime's types, not a dependency of ours
pub(super) fn find(
    set: &aws_config::profile::ProfileSet,
    selected: &aws_config::profile::Profile,
) -> Option<ChainedProcess> {
    let mut hop = selected;
    let mut seen: Vec<&str> = Vec::new();
    for _ in 0..MAX_HOPS {
        // A hop is a plain role on a source profile: no other source, no process, no keys of
        // its own (aws-config would prefer those).
        if hop.get("role_arn").is_none()
            || has_any(
                hop,
                &[&OTHER_SOURCES, &["credential_process"], &STATIC_KEYS[..2]],
            )
        {
            return None;
        }
        let next_name = hop.get("source_profile")?;
        seen.push(hop.name());
        if seen.contains(&next_name) {
            return None;
        }
        let next = set.get_profile(next_name)?;
        if next.get("role_arn").is_some() {
            hop = next;
            continue;
        }
        // The base makes credentials only with its process.
        if has_any(next, &[&ROLE_CHAIN, &OTHER_SOURCES, &STATIC_KEYS]) {
            return None;
        }
        return Some(ChainedProcess {
            hop: hop.name().to_string(),
            command: next.get("credential_process")?.to_string(),
        });
    }
    None
}

/// The files with the hop's `source_profile` replaced by our provider, if the result reads
/// back as intended (the hop now names our provider and no source profile); else `None`, and
/// aws-config reads the files as they are.
#[allow(deprecated)] // aws-config's alias of aws-runtime's `EnvConfigFiles`
pub(super) fn hand_over(
    contents: &SharedContents,
    chained: &ChainedProcess,
    profile: Option<&str>,
) -> Option<aws_config::profile::profile_file::ProfileFiles> {
    let rewritten = SharedContents {
        config: rewrite(&contents.config, FileKind::Config, &chained.hop),
        credentials: rewrite(&contents.credentials, FileKind::Credentials, &chained.hop),
    };
    let files = rewritten.profile_files();
    let reads_back = super::parse(&files, profile).is_some_and(|set| {
        set.get_profile(&chained.hop).is_some_and(|hop| {
            hop.get("source_profile").is_none()
                && hop.get("credential_source") == Some(PROVIDER_NAME)
        })
    });
    reads_back.then_some(files)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Config,
    Credentials,
}

/// `text` with every `source_profile = ...` line of profile `name`'s sections replaced by
/// `credential_source = <our provider>`; every other line as it was.
fn rewrite(text: &str, kind: FileKind, name: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_profile = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            in_profile = header
                .split(']')
                .next()
                .is_some_and(|inner| section_names(inner, kind, name));
        } else if in_profile
            && let Some((key, _)) = trimmed.split_once('=')
            && key.trim() == "source_profile"
        {
            out.push_str(&format!("credential_source = {PROVIDER_NAME}\n"));
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Does a section header's inside (`profile app`, `app`, `default`) name profile `name` in a
/// file of `kind`?
fn section_names(inner: &str, kind: FileKind, name: &str) -> bool {
    let words: Vec<&str> = inner.split_whitespace().collect();
    match (kind, words.as_slice()) {
        (FileKind::Config, ["profile", profile]) => *profile == name,
        (FileKind::Config, [profile]) => *profile == "default" && name == "default",
        (FileKind::Credentials, [profile]) => *profile == name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(config: &str) -> SharedContents {
        SharedContents {
            config: config.to_string(),
            credentials: String::new(),
        }
    }

    #[allow(deprecated)]
    fn found(config: &str, profile: Option<&str>) -> Option<ChainedProcess> {
        let files = contents(config).profile_files();
        let set = super::super::parse(&files, profile)?;
        let selected = set.get_profile(set.selected_profile())?;
        find(&set, selected)
    }

    const CHAIN: &str = "[profile app]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = mid\n\
                         [profile mid]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n\
                         [profile base]\ncredential_process = /bin/tool --x\n";

    #[test]
    fn a_plain_chain_is_found_and_handed_over_at_its_last_role() {
        let chained = found(CHAIN, Some("app")).expect("a chain");
        assert_eq!(
            chained,
            ChainedProcess {
                hop: "mid".into(),
                command: "/bin/tool --x".into()
            }
        );
        assert!(hand_over(&contents(CHAIN), &chained, Some("app")).is_some());
        let text = rewrite(CHAIN, FileKind::Config, "mid");
        assert!(text.contains(&format!(
            "[profile mid]\nrole_arn = arn:aws:iam::1:role/m\ncredential_source = {PROVIDER_NAME}\n"
        )));
        assert!(
            text.contains(
                "[profile app]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = mid\n"
            )
        );
    }

    #[test]
    fn chains_that_are_not_plain_are_left_to_aws_config() {
        let with_keys = CHAIN.replace(
            "[profile base]\n",
            "[profile base]\naws_access_key_id = AKID\naws_secret_access_key = s\n",
        );
        assert_eq!(
            found(&with_keys, Some("app")),
            None,
            "static keys win in a base"
        );
        let sso_hop = CHAIN.replace("[profile mid]\n", "[profile mid]\nsso_session = s\n");
        assert_eq!(found(&sso_hop, Some("app")), None);
        let looped = "[profile a]\nrole_arn = r\nsource_profile = b\n[profile b]\nrole_arn = r\nsource_profile = a\n";
        assert_eq!(found(looped, Some("a")), None);
        let no_role = "[profile app]\ncredential_process = /bin/tool\n";
        assert_eq!(
            found(no_role, Some("app")),
            None,
            "its own process: process.rs"
        );
        let missing = "[profile app]\nrole_arn = r\nsource_profile = nowhere\n";
        assert_eq!(found(missing, Some("app")), None);
    }

    #[test]
    fn the_default_profile_is_matched_in_both_spellings() {
        assert!(section_names("default", FileKind::Config, "default"));
        assert!(section_names(
            "profile default",
            FileKind::Config,
            "default"
        ));
        assert!(section_names(" profile   app ", FileKind::Config, "app"));
        assert!(
            !section_names("app", FileKind::Config, "app"),
            "config needs `profile`"
        );
        assert!(!section_names("sso-session app", FileKind::Config, "app"));
        assert!(section_names("app", FileKind::Credentials, "app"));
    }
}

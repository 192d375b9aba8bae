//! Every reference token from the AWS SDKs (tests/vectors/tokens.jsonl, copied from the
//! project's shared vectors): our signer produces the same parameters and signature, byte for
//! byte where the SDK used our (botocore's) parameter order; the verifier accepts each
//! reference token and refuses it once anything in it is changed.

use iam_db_auth::sign::{Presign, SigningCredentials, presign};
use iam_db_auth::{AwsCredentials, TokenKind, TokenRequest, UtcSeconds};
use iam_db_auth_verify::{Expectation, Keystore, verify};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::SystemTime;

struct Vector {
    name: String,
    kind: TokenKind,
    host: String,
    port: u16,
    region: String,
    user: String,
    access_key_id: String,
    secret: String,
    session_token: Option<String>,
    time: UtcSeconds,
    expires: u32,
    expected: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/tokens.jsonl");
    let out: Vec<Vector> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("vector is JSON");
            let s = |k: &str| v[k].as_str().map(str::to_string);
            Vector {
                name: s("name").unwrap(),
                kind: TokenKind::from_name(&s("kind").unwrap()).expect("known kind"),
                host: s("host").unwrap(),
                port: v["port"].as_u64().unwrap_or(0) as u16,
                region: s("region").unwrap(),
                user: s("user").unwrap_or_default(),
                access_key_id: s("access_key_id").unwrap(),
                secret: s("secret_access_key").unwrap(),
                session_token: s("session_token"),
                time: UtcSeconds::parse_rfc3339(&s("time").unwrap()).expect("time"),
                expires: v["expires"].as_u64().unwrap() as u32,
                expected: s("expected").unwrap(),
            }
        })
        .collect();
    assert!(
        out.len() >= 9,
        "expected the full vector file, got {}",
        out.len()
    );
    out
}

/// (host part, ordered parameter names, parameters) of a token.
fn parse(token: &str) -> (String, Vec<String>, BTreeMap<String, String>) {
    let (host, query) = token.split_once("/?").expect("token has /?");
    let mut order = Vec::new();
    let mut params = BTreeMap::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').expect("k=v");
        order.push(k.to_string());
        assert!(
            params.insert(k.to_string(), v.to_string()).is_none(),
            "duplicate {k}"
        );
    }
    (host.to_string(), order, params)
}

fn ours(v: &Vector) -> String {
    let input = Presign {
        kind: v.kind,
        host: &v.host,
        port: v.port,
        user: &v.user,
        region: &v.region,
        expires_in: v.expires,
        time: v.time,
        serverless: false,
    };
    let creds = SigningCredentials {
        access_key_id: &v.access_key_id,
        secret_access_key: &v.secret,
        session_token: v.session_token.as_deref(),
    };
    presign(&input, &creds).to_string()
}

#[test]
fn every_vector_matches_parameters_and_signature() {
    let mut byte_identical = 0;
    for v in vectors() {
        let got = ours(&v);
        let (got_host, got_order, got_params) = parse(&got);
        let (want_host, want_order, want_params) = parse(&v.expected);
        assert_eq!(got_host, want_host, "{}: host part", v.name);
        assert_eq!(got_params, want_params, "{}: parameters", v.name);
        if got_order == want_order {
            assert_eq!(got, v.expected, "{}: same order, so same bytes", v.name);
            byte_identical += 1;
        }
    }
    // botocore 1.44.8, smithy-rs and the DSQL vectors use our order.
    assert!(
        byte_identical >= 6,
        "only {byte_identical} vectors compared byte for byte"
    );
}

#[test]
fn engine_path_matches_the_rds_vectors() {
    // The same vectors through the public API (request validation, engine, key handling).
    let mut checked = 0;
    for v in vectors().into_iter().filter(|v| v.kind == TokenKind::Rds) {
        let creds = AwsCredentials::new(
            v.access_key_id.clone(),
            v.secret.clone(),
            v.session_token.clone(),
            None,
            "vector",
        );
        let request = TokenRequest::new(&v.host, v.port, &v.user).signing_time(v.time);
        let token =
            iam_db_auth::token_with(&request, &v.region, &creds, SystemTime::now()).unwrap();
        assert_eq!(parse(token.as_str()).2, parse(&v.expected).2, "{}", v.name);
        assert_eq!(token.signed_at(), v.time.to_system_time());
        checked += 1;
    }
    assert!(checked >= 6);
}

fn keystore_for(v: &Vector) -> Keystore {
    let mut keys = Keystore::default();
    keys.add(&v.access_key_id, &v.secret, v.session_token.as_deref());
    keys
}

fn endpoint_of(v: &Vector) -> Vec<String> {
    vec![v.expected.split_once("/?").unwrap().0.to_string()]
}

#[test]
fn verifier_accepts_every_reference_token() {
    for v in vectors() {
        let endpoints = endpoint_of(&v);
        let expect = Expectation {
            kind: v.kind,
            endpoints: &endpoints,
            region: &v.region,
            user: &v.user,
        };
        let at = v.time.plus(60);
        let verified = verify(&v.expected, &expect, &keystore_for(&v), at)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(verified.access_key_id, v.access_key_id);
        assert_eq!(verified.temporary, v.session_token.is_some());
    }
}

#[test]
fn verifier_refuses_every_alteration() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "botocore-session-special-user")
        .unwrap();
    let endpoints = endpoint_of(&v);
    let expect = Expectation {
        kind: v.kind,
        endpoints: &endpoints,
        region: &v.region,
        user: &v.user,
    };
    let keys = keystore_for(&v);
    let ok_at = v.time.plus(10);
    assert!(verify(&v.expected, &expect, &keys, ok_at).is_ok());

    let t = &v.expected;
    let sig_pos = t.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut flipped_sig = t.clone();
    let c = if &t[sig_pos..sig_pos + 1] == "0" {
        "1"
    } else {
        "0"
    };
    flipped_sig.replace_range(sig_pos..sig_pos + 1, c);
    let altered: Vec<(String, &str)> = vec![
        (flipped_sig, "signature does not match"),
        (
            t.replace("DBUser=user%2Bname%40x%2Fy", "DBUser=user%20name%40x%2Fy"),
            "not 'user+name@x/y'",
        ),
        (t.replace(":5432/", ":5433/"), "signed for"),
        (t.replace("Action=connect", "Action=Connect"), "Action"),
        (
            t.replace("X-Amz-Expires=900", "X-Amz-Expires=901"),
            "X-Amz-Expires",
        ),
        (
            t.replace("X-Amz-Expires=900", "X-Amz-Expires=0900"),
            "X-Amz-Expires",
        ),
        (
            t.replace("us-east-1%2Frds-db", "us-west-2%2Frds-db"),
            "region",
        ),
        (t.replace("%2Frds-db%2F", "%2Frds%2F"), "service"),
        (t.replace("20260102%2F", "20260103%2F"), "scope date"),
        (
            t.replace("&X-Amz-Security-Token=AQoDYXdzEJr...EXAMPLETOKEN", ""),
            "no session token",
        ),
        (
            t.replace("EXAMPLETOKEN", "EXAMPLETOKEX"),
            "session token does not belong",
        ),
        (
            t.replace(
                "X-Amz-SignedHeaders=host",
                "X-Amz-SignedHeaders=host%3Bx-amz-date",
            ),
            "SignedHeaders",
        ),
        (format!("{t}&X-Amz-Foo=1"), "unexpected parameter"),
        (format!("{t}&Action=connect"), "twice"),
        (format!("https://{t}"), "scheme"),
        (t.replace("%2B", "+"), "canonically encoded"),
        (t.replace("%40", "%4"), "malformed"),
        (t.replace("/?", "?"), "no '/?'"),
        (String::new(), "empty"),
    ];
    for (token, why) in altered {
        let err = verify(&token, &expect, &keys, ok_at).unwrap_err();
        assert!(err.0.contains(why), "expected {why:?}, got {:?}", err.0);
        assert!(!err.0.contains("EXAMPLETOKEN") && !err.0.contains(&v.secret));
    }

    // Time: valid up to signing + 900 s, refused after; refused when too far in the future.
    assert!(verify(t, &expect, &keys, v.time.plus(900)).is_ok());
    assert!(
        verify(t, &expect, &keys, v.time.plus(901))
            .unwrap_err()
            .0
            .contains("expired")
    );
    let early = UtcSeconds::from_unix(v.time.unix() - 301);
    assert!(
        verify(t, &expect, &keys, early)
            .unwrap_err()
            .0
            .contains("future")
    );

    // Another user, an unknown key, a wrong secret, a long-term key used with a token.
    let other_user = Expectation {
        user: "someone",
        ..expect.clone()
    };
    assert!(
        verify(t, &other_user, &keys, ok_at)
            .unwrap_err()
            .0
            .contains("not 'someone'")
    );
    assert!(
        verify(t, &expect, &Keystore::default(), ok_at)
            .unwrap_err()
            .0
            .contains("unknown access key")
    );
    let mut wrong_secret = Keystore::default();
    wrong_secret.add(
        &v.access_key_id,
        "not-the-secret",
        v.session_token.as_deref(),
    );
    assert!(
        verify(t, &expect, &wrong_secret, ok_at)
            .unwrap_err()
            .0
            .contains("signature does not match")
    );
    // Temporary credentials that expire stop every token they signed, however young.
    let mut expiring = Keystore::default();
    expiring.add_expiring(
        &v.access_key_id,
        &v.secret,
        v.session_token.as_deref().unwrap(),
        v.time.plus(100),
    );
    let verified = verify(t, &expect, &expiring, ok_at).unwrap();
    assert_eq!(verified.expires_at, v.time.plus(100));
    assert!(
        verify(t, &expect, &expiring, v.time.plus(101))
            .unwrap_err()
            .0
            .contains("credentials of key")
    );
    let mut long_term = Keystore::default();
    long_term.add(&v.access_key_id, &v.secret, None);
    assert!(
        verify(t, &expect, &long_term, ok_at)
            .unwrap_err()
            .0
            .contains("long-term key")
    );
}

#[test]
fn the_last_signable_second_makes_a_token_the_verifier_accepts() {
    use iam_db_auth_verify::{Expectation, Keystore, verify};
    let creds =
        iam_db_auth::AwsCredentials::new("AKIDEXAMPLE", "engine-test-secret", None, None, "test");
    let last = iam_db_auth::UtcSeconds::LAST_SIGNABLE;
    let request = iam_db_auth::TokenRequest::new("db.internal", 5432, "app").signing_time(last);
    let token =
        iam_db_auth::token_with(&request, "us-east-1", &creds, std::time::UNIX_EPOCH).unwrap();
    assert!(token.as_str().contains("X-Amz-Date=99991231T235959Z"));
    let mut keys = Keystore::default();
    keys.add("AKIDEXAMPLE", "engine-test-secret", None);
    let endpoints = ["db.internal:5432".to_string()];
    let expect = Expectation {
        kind: iam_db_auth::TokenKind::Rds,
        endpoints: &endpoints,
        region: "us-east-1",
        user: "app",
    };
    assert!(verify(token.as_str(), &expect, &keys, last).is_ok());
}

//! Password hashing: argon2id with OWASP's minimum parameters (m=19456 KiB, t=2, p=1), stored as a
//! PHC string. Hashing runs on the blocking pool, never on the async executor.

use crate::{domain::Password, error::ApiError};
use argon2::{
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use std::sync::Mutex;

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters")
}

/// Runs `f` on argon2's working memory (`blocks` KiB). A process keeps one such area and reuses
/// it: a Lambda environment hashes one password at a time, and a fresh 19 MiB allocation per hash
/// stays resident once freed (glibc), which took `auth` to 160 MB under load and costs ~4,900
/// page faults a hash. A second hash at the same moment (tests, a local server) gets an area of
/// its own rather than waiting.
fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    static AREA: Mutex<Vec<Block>> = Mutex::new(Vec::new());
    match AREA.try_lock() {
        Ok(mut area) if area.is_empty() || area.len() == blocks => {
            area.resize(blocks, Block::new());
            f(&mut area)
        }
        _ => f(&mut vec![Block::new(); blocks]),
    }
}

/// argon2 of `password` and `salt` with `params`, into `out`.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), ApiError> {
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    with_memory(blocks, |memory| argon.hash_password_into_with_memory(password, salt, out, memory))
        .map_err(ApiError::internal)
}

fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(ApiError::internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let params = params();
    let params_string = ParamsString::try_from(&params).map_err(ApiError::internal)?;
    compute(Algorithm::Argon2id, Version::V0x13, params, password.as_bytes(), &salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params_string,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(phc.to_string())
}

/// Whether `candidate` hashes to the PHC string `stored` (with the parameters it names).
fn matches(candidate: &str, stored: &str) -> Result<bool, ApiError> {
    let parsed = PasswordHash::new(stored).map_err(ApiError::internal)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(ApiError::internal)?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(ApiError::internal)?.unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(ApiError::internal)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(ApiError::internal("stored password hash has no salt or hash"));
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(ApiError::internal)?;
    let mut out = vec![0u8; expected.len()];
    compute(algorithm, version, params, candidate.as_bytes(), salt_bytes, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(ApiError::internal)? == expected)
}

/// Hashes a policy-checked password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose())).await.map_err(ApiError::internal)?
}

/// What an unknown user's password is checked against: the PHC string of a random password
/// nobody knows, made once by `hash` with the parameters every stored hash has (a test holds the
/// two together; new parameters need a new one, `hash` of any random password). Verifying against
/// it costs what a wrong password costs, so "unknown user" and "wrong password" take the same time
/// from a process's first request on, and nothing is computed at start. No password gets in
/// through it: [`verify`] also needs a stored hash.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$N7Q9bMUfNvm4YDpTu1SDLg$3mCqR9flNCDVIIN5xo96oyB0+oRhKe8V3opG7xSxpYs";

/// Verifies `candidate` against `phc` (or against a dummy hash when `phc` is `None`), on the
/// blocking pool. Returns `false` for a wrong password and for a missing user alike.
pub async fn verify(candidate: String, phc: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let ok = matches(&candidate, phc.as_deref().unwrap_or(DUMMY_HASH))?;
        Ok(ok && phc.is_some())
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash(Password::parse("correct horse battery", None, None).unwrap()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h.clone())).await.unwrap());
        let h2 = hash(Password::parse("correct horse battery", None, None).unwrap()).await.unwrap();
        assert_ne!(h, h2, "salts differ");
    }

    #[test]
    fn interoperates_with_the_argon2_crates_own_hashing() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // A PHC string made by the crate (with other parameters) verifies here ...
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 3, 1, None).unwrap());
        let phc = other.hash_password(b"correct horse battery", &salt).unwrap().to_string();
        assert!(matches("correct horse battery", &phc).unwrap());
        assert!(!matches("correct horse batterx", &phc).unwrap());
        // ... and one made here verifies with the crate.
        let ours = hash_blocking("correct horse battery").unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(argon.verify_password(b"correct horse battery", &PasswordHash::new(&ours).unwrap()).is_ok());
        assert!(argon.verify_password(b"correct horse batterx", &PasswordHash::new(&ours).unwrap()).is_err());
    }

    #[test]
    fn the_dummy_hash_has_the_parameters_of_every_stored_hash() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
        assert_eq!(dummy.version, Some(Version::V0x13.into()));
        let (d, p) = (Params::try_from(&dummy).unwrap(), params());
        assert_eq!((d.m_cost(), d.t_cost(), d.p_cost()), (p.m_cost(), p.t_cost(), p.p_cost()), "another cost");
        assert_eq!(dummy.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
    }

    #[tokio::test]
    async fn missing_user_never_verifies() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}

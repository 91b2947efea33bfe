//! The certificates a private control plane needs: a CA, the API server's serving certificate,
//! a client identity in `system:masters`, and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::HarnessError;

/// Paths of the PEM files written by [`generate`].
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_public: PathBuf,
}

fn failed(what: &str) -> impl FnOnce(rcgen::Error) -> HarnessError + '_ {
    move |e| HarnessError::Certificates(format!("{what}: {e}"))
}

pub fn generate(dir: &Path) -> Result<Pki, HarnessError> {
    let ca_key = KeyPair::generate().map_err(failed("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed("CA"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "dumplens-e2e-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(failed("CA"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(failed("server key"))?;
    let mut server = CertificateParams::new(vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default.svc".to_string(),
    ])
    .map_err(failed("server"))?;
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .map_err(failed("server"))?;

    let client_key = KeyPair::generate().map_err(failed("client key"))?;
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(failed("client"))?;
    client
        .distinguished_name
        .push(DnType::CommonName, "dumplens-e2e-admin");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client
        .signed_by(&client_key, &issuer)
        .map_err(failed("client"))?;

    let service_account = KeyPair::generate().map_err(failed("service-account key"))?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("apiserver.crt"),
        server_key: dir.join("apiserver.key"),
        client_cert: dir.join("admin.crt"),
        client_key: dir.join("admin.key"),
        service_account_key: dir.join("sa.key"),
        service_account_public: dir.join("sa.pub"),
    };
    for (path, pem) in [
        (&pki.ca_cert, ca_cert.pem()),
        (&pki.server_cert, server_cert.pem()),
        (&pki.server_key, server_key.serialize_pem()),
        (&pki.client_cert, client_cert.pem()),
        (&pki.client_key, client_key.serialize_pem()),
        (&pki.service_account_key, service_account.serialize_pem()),
        (
            &pki.service_account_public,
            service_account.public_key_pem(),
        ),
    ] {
        std::fs::write(path, pem).map_err(|source| HarnessError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(pki)
}

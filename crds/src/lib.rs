//! The PgDumpLens custom resources. `Dump` asks for one dump to be restored into a sandbox
//! and served; its status says how far that got. The YAML in `crds/*.yaml` is generated from
//! these types (`cargo run -p crds --bin crdgen`) and a test fails when it is stale.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use serde::{Deserialize, Serialize};

/// A PostgreSQL dump to restore into a throwaway sandbox database and serve to a browser.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "dumplens.io",
    version = "v1alpha1",
    kind = "Dump",
    namespaced,
    shortname = "dump",
    status = "DumpStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Tables","type":"integer","jsonPath":".status.tables"}"#,
    printcolumn = r#"{"name":"Size","type":"integer","format":"int64","jsonPath":".status.sizeBytes"}"#,
    printcolumn = r#"{"name":"Expires","type":"date","jsonPath":".status.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new("!has(oldSelf.spec) || self.spec.source == oldSelf.spec.source")
        .message("spec.source is immutable: create a new Dump for another dump"),
)]
#[serde(rename_all = "camelCase")]
pub struct DumpSpec {
    /// Where the dump file comes from: exactly one of upload, url, s3 or pvc.
    pub source: DumpSource,
    /// How long the sandbox lives after the dump is Ready, e.g. 30m, 24h or 7d (default: until
    /// the Dump is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^([0-9]+(s|m|h|d))+$')").message("ttl must be a duration like 30m, 24h or 7d"))]
    pub ttl: Option<String>,
    /// What happens when the TTL runs out: DropDatabase drops the sandbox and the stored file and
    /// keeps this resource with phase Expired (so GitOps tools do not recreate it); Delete
    /// deletes the resource as well.
    #[serde(default)]
    pub expiry_policy: ExpiryPolicy,
    /// Private dumps need a share token to be read through the API; Public ones need only an
    /// API token.
    #[serde(default)]
    pub visibility: Visibility,
    /// How the restore Job runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreSettings>,
}

/// Where the dump file comes from. Exactly one field is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = kube::core::Rule::new("[has(self.upload), has(self.url), has(self.s3), has(self.pvc)].filter(x, x).size() == 1").message("set exactly one of upload, url, s3 or pvc"))]
#[serde(rename_all = "camelCase")]
pub struct DumpSource {
    /// A file uploaded through the PgDumpLens API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadSource>,
    /// An http or https URL the restore Job downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<UrlSource>,
    /// An object in S3 or any S3-compatible store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Source>,
    /// A file on a PersistentVolumeClaim in the Dump's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcSource>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UploadSource {
    /// The upload's id, as the API returned it.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z0-9]{1,40}$')").message("an upload id is 1 to 40 lowercase letters and digits"))]
    pub id: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UrlSource {
    /// http:// or https:// URL of the dump file.
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("url must be http or https"))]
    pub url: String,
    /// The file's SHA-256 (hex); the restore fails when the download does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-f]{64}$')").message("sha256 must be 64 lowercase hex digits"))]
    pub sha256: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3Source {
    pub bucket: String,
    pub key: String,
    /// The endpoint of an S3-compatible store (default: AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The object's SHA-256 (hex); the restore fails when the download does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-f]{64}$')").message("sha256 must be 64 lowercase hex digits"))]
    pub sha256: Option<String>,
    /// A Secret in the Dump's namespace with keys accessKeyId and secretAccessKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretReference>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    pub name: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    /// The PersistentVolumeClaim's name.
    pub claim: String,
    /// The file's path inside the claim.
    #[x_kube(validation = kube::core::Rule::new("!self.contains('..')").message("path must not contain .."))]
    pub path: String,
}

#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum ExpiryPolicy {
    #[default]
    DropDatabase,
    Delete,
}

#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSettings {
    /// pg_restore jobs for custom and directory archives (1 to 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub parallel_jobs: Option<u32>,
    /// Resources of the restore Job's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The PostgreSQL major version to restore with (default: the newest the sandbox server has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_version: Option<String>,
    /// Tables (schema.table) whose rows are not restored; their definitions still are. Rows
    /// that other tables reference cannot be left out: those foreign keys would fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_table_data: Vec<String>,
}

/// How far the Dump got. The phase is for people; conditions (Ready, Reconciling, Stalled) are
/// for tools (kstatus, `kubectl wait`, Argo CD and Flux health checks).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DumpStatus {
    /// Pending, Fetching, Restoring, Analyzing, Ready, Failed or Expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The databases in the dump and the sandbox database each was restored into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_dump_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// What went wrong, or what is happening, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where to look at the dump in the PgDumpLens UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The name in the dump (absent for a plain pg_dump script, which does not name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sandbox database it was restored into.
    pub sandbox: String,
}

/// The annotation holding the SHA-256 (hex) of a Private Dump's share token. Only the hash is
/// kept: whoever may read the Dump may not thereby read its data.
pub const SHARE_TOKEN_ANNOTATION: &str = "dumplens.io/share-token-sha256";

/// The sandbox id of the Dump with this UID: the UID without dashes, so no other Dump can claim
/// its sandbox. It is also the Dump's id in the API.
pub fn sandbox_id(uid: &str) -> String {
    uid.replace('-', "").to_ascii_lowercase()
}

/// Every CustomResourceDefinition of the project, as YAML documents, in the order they are
/// checked in under `crds/`: (file name, YAML).
pub fn all_yaml() -> Vec<(&'static str, String)> {
    vec![(
        "dump.yaml",
        serde_yaml_ng::to_string(&Dump::crd()).expect("a CRD serialises"),
    )]
}

/// Every CustomResourceDefinition of the project.
pub fn all()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    vec![Dump::crd()]
}

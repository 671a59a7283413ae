//! `stockade image` reports as SARIF 2.1.0 (the rule descriptors and levels are audit's) and as a
//! CycloneDX 1.5 SBOM (JSON, written from our own serde structs).

use scan::image::Report;
use scan::pkgdb::{Package, PkgType};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// The report as SARIF: one result per finding, located at the path inside the image (or the
/// image config), with the layer, package, CVEs and fix in its properties.
pub fn sarif(r: &Report) -> serde_sarif::sarif::Sarif {
    use serde_sarif::sarif::{
        ArtifactLocation, Location, Message, PhysicalLocation, PropertyBag, Result,
    };
    let (rules, index) = audit::report::sarif_rules(r.findings.iter().map(|f| f.rule_id.as_str()));
    let results: Vec<Result> = r
        .findings
        .iter()
        .map(|f| {
            let uri = match &f.path {
                Some(p) => p.trim_start_matches('/').to_string(),
                None => "image-config.json".to_string(),
            };
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(ArtifactLocation::builder().uri(uri).build())
                        .build(),
                )
                .build();
            let mut props = BTreeMap::new();
            props.insert("image".to_string(), json!(r.image));
            for (k, v) in [
                ("layer", f.layer.map(|l| json!(l))),
                ("package", f.package.as_ref().map(|p| json!(p))),
                ("version", f.version.as_ref().map(|p| json!(p))),
                ("fixed_in", f.fixed_in.as_ref().map(|p| json!(p))),
                ("status", f.status.as_ref().map(|p| json!(p))),
                ("advisory", f.advisory.as_ref().map(|p| json!(p))),
                ("cves", (!f.cves.is_empty()).then(|| json!(f.cves))),
                ("reachability", f.reachability.as_ref().map(|g| json!(g))),
            ] {
                if let Some(v) = v {
                    props.insert(k.to_string(), v);
                }
            }
            let mut res = Result::builder()
                .message(Message::builder().text(f.message.clone()).build())
                .rule_id(f.rule_id.to_string())
                .level(audit::report::sarif_level(f.severity))
                .locations(vec![location])
                .properties(PropertyBag::builder().additional_properties(props).build())
                .build();
            res.rule_index = index.get(f.rule_id.as_str()).map(|&i| i as i64);
            res
        })
        .collect();
    audit::report::sarif_document("stockade", rules, results)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    tools: Tools,
    component: Subject<'a>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<ToolRef>,
}

#[derive(Serialize)]
struct ToolRef {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Subject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: String,
    version: String,
    purl: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

/// Percent-encode what a purl segment may not hold.
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

pub fn purl(p: &Package, distro: Option<&scan::osv::Distro>) -> String {
    let ns = distro.map_or("", |d| d.id.as_str());
    let q = distro
        .filter(|d| !d.id.is_empty())
        .map(|d| format!("?distro={}-{}", enc(&d.id), enc(&d.version_id)))
        .unwrap_or_default();
    match p.kind {
        PkgType::Deb => format!(
            "pkg:deb/{}/{}@{}{q}",
            enc(ns),
            enc(&p.name),
            enc(&p.version)
        ),
        PkgType::Apk => format!(
            "pkg:apk/{}/{}@{}{q}",
            enc(ns),
            enc(&p.name),
            enc(&p.version)
        ),
        PkgType::Rpm => format!(
            "pkg:rpm/{}/{}@{}{q}",
            enc(ns),
            enc(&p.name),
            enc(&p.version)
        ),
        PkgType::Go => {
            let path: Vec<String> = p.name.split('/').map(enc).collect();
            format!("pkg:golang/{}@{}", path.join("/"), enc(&p.version))
        }
    }
}

/// The inventory as a CycloneDX 1.5 SBOM.
pub fn cyclonedx(r: &Report) -> serde_json::Value {
    let components = r
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut properties = Vec::new();
            if let Some(l) = p.layer {
                properties.push(Property {
                    name: "stockade:layer",
                    value: l.to_string(),
                });
            }
            if let Some(s) = &p.source {
                properties.push(Property {
                    name: "stockade:source-package",
                    value: s.clone(),
                });
            }
            if let Some(s) = &p.path {
                properties.push(Property {
                    name: "stockade:path",
                    value: s.clone(),
                });
            }
            Component {
                kind: "library",
                bom_ref: format!("pkg-{i}"),
                name: p.name.clone(),
                version: p.version.clone(),
                purl: purl(p, r.distro.as_ref()),
                properties,
            }
        })
        .collect();
    let bom = Bom {
        bom_format: "CycloneDX",
        spec_version: "1.5",
        version: 1,
        metadata: Metadata {
            tools: Tools {
                components: vec![ToolRef {
                    kind: "application",
                    name: "stockade",
                    version: env!("CARGO_PKG_VERSION"),
                }],
            },
            component: Subject {
                kind: "container",
                bom_ref: "image",
                name: &r.image,
            },
        },
        components,
    };
    serde_json::to_value(bom).unwrap_or_default()
}

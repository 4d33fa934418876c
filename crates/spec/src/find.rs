//! `spec.find`: ranked retrieval over every operation, built once when the spec loads.
//!
//! Each operation is a document of weighted fields (path, summary, operationId, tags,
//! description, parameter names) scored with BM25F. The query is read the way agents phrase
//! tasks: a leading verb says which method is wanted ("list" a GET of a collection, "create" a
//! POST, "delete" a DELETE, "update" a PATCH or PUT), and product words bring in their synonyms
//! (a domain is a zone, a bucket is R2, a SQL database is D1).

use std::collections::HashMap;

use crate::node::Node;
use crate::operation::{Method, Operation};

/// How many operations `find` returns unless told otherwise.
pub const DEFAULT_FIND_LIMIT: usize = 8;

/// The most operations one `find` returns.
pub const MAX_FIND_LIMIT: usize = 50;

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;

/// BM25 length normalisation.
const B: f32 = 0.75;

/// Weight of a synonym brought in by a query word, relative to the word itself.
const SYNONYM_WEIGHT: f32 = 0.7;

/// Weight of the verb itself as a search term; its main effect is the method it asks for.
const VERB_WEIGHT: f32 = 0.4;

/// Score factor of an operation whose path ends in a collection named by a query word
/// (`GET /zones` for "list my zones"): the thing asked about, not something under it.
const NAMED_COLLECTION: f32 = 1.6;

/// Score factor of an operation whose last literal path segment is named by a query word but
/// is followed by a parameter (`GET /zones/{zone_id}` for "get a zone").
const NAMED_ITEM: f32 = 1.2;

/// Words that say nothing about which operation is wanted.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "for",
    "in",
    "on",
    "to",
    "all",
    "me",
    "with",
    "from",
    "by",
    "and",
    "or",
    "is",
    "are",
    "be",
    "what",
    "how",
    "do",
    "doe",
    "can",
    "this",
    "that",
    "it",
    "its",
    "our",
    "your",
    "some",
    "any",
    "every",
    "each",
    "there",
    "under",
    "into",
    "at",
    "as",
    "we",
    "us",
    "want",
    "need",
    "please",
    "currently",
    "one",
    "via",
    "using",
    "have",
    "got",
];

/// Product words and the terms the spec uses for them, both ways where it matters.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("domain", &["zone"]),
    ("site", &["zone"]),
    ("website", &["zone"]),
    ("record", &["dns"]),
    ("vector", &["vectorize"]),
    ("review", &["reviewer"]),
    ("branch", &["ref"]),
    ("kv", &["namespace", "storage"]),
    ("namespace", &["kv"]),
    ("bucket", &["r2"]),
    ("r2", &["bucket"]),
    ("object", &["r2"]),
    ("database", &["d1"]),
    ("sql", &["d1", "query"]),
    ("d1", &["database"]),
    ("worker", &["script"]),
    ("script", &["worker"]),
    ("function", &["worker", "script"]),
    ("certificate", &["ssl", "cert"]),
    ("cert", &["certificate", "ssl"]),
    ("tl", &["ssl"]),
    ("firewall", &["waf", "rule"]),
    ("ip", &["address"]),
    ("tunnel", &["cfd"]),
    ("redirect", &["forwarding", "rule"]),
    ("analytic", &["stat", "report"]),
    ("log", &["logpush", "job"]),
    ("member", &["collaborator", "membership"]),
    ("collaborator", &["member"]),
    ("repository", &["repo"]),
    ("repo", &["repository"]),
    ("pr", &["pull"]),
    ("org", &["organization"]),
    ("organization", &["org"]),
    ("organisation", &["organization", "org"]),
    ("webhook", &["hook"]),
    ("hook", &["webhook"]),
    ("ci", &["workflow", "action"]),
    ("workflow", &["action"]),
    ("star", &["starred", "stargazer"]),
    ("follower", &["follow"]),
    ("key", &["token"]),
    ("token", &["key"]),
];

/// Words by which a task means the caller's own things, the spec's term for them, and its
/// weight: light, since most operations of a token-scoped API are the caller's anyway.
const POSSESSIVES: (&[&str], &str, f32) = (&["my", "mine", "i"], "authenticated", 0.25);

/// Words spelled as several, joined before the query is split.
const PHRASES: &[(&str, &str)] = &[
    ("i can access", "my"),
    ("i have access to", "my"),
    ("key-value", "kv"),
    ("key value", "kv"),
    ("pull request", "pull"),
    ("sql database", "d1 database"),
];

/// Verbs that state an intent only as the first word of a task ("file a bug", but "read a
/// file"), and the terms the spec uses for what they do.
const LEADING_VERBS: &[(&str, Intent, &[&str])] = &[
    ("file", Intent::Create, &["create"]),
    ("comment", Intent::Create, &["comment", "create"]),
    ("close", Intent::Update, &["update", "state"]),
    ("approve", Intent::Create, &["review"]),
    ("publish", Intent::Create, &["create"]),
    ("trigger", Intent::Create, &["dispatch", "event"]),
    ("protect", Intent::Update, &["protection"]),
    ("commit", Intent::Update, &["content", "file", "update"]),
    ("block", Intent::Create, &["rule", "access", "firewall"]),
    ("invite", Intent::Create, &["member", "add", "invitation"]),
    ("send", Intent::Create, &["create"]),
    (
        "give",
        Intent::Update,
        &["add", "collaborator", "permission"],
    ),
    ("ask", Intent::Create, &["request"]),
    ("store", Intent::Update, &["write", "value"]),
    ("write", Intent::Update, &["write"]),
    ("put", Intent::Update, &["write"]),
    ("run", Intent::Create, &["execute", "query"]),
    ("star", Intent::Update, &["star"]),
    ("follow", Intent::Update, &["follow"]),
    ("fork", Intent::Create, &["fork"]),
    ("merge", Intent::Update, &["merge"]),
    ("turn", Intent::Update, &["setting", "edit"]),
    ("enable", Intent::Update, &["setting", "edit"]),
    ("disable", Intent::Update, &["setting", "edit"]),
];

/// The methods a leading verb asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// A GET of a collection.
    List,
    /// A GET of one item.
    Read,
    /// A POST (or a PUT that creates).
    Create,
    /// A DELETE.
    Delete,
    /// A PATCH or PUT (or a POST that changes state).
    Update,
}

impl Intent {
    /// The intent a query word states, if any.
    fn of(word: &str) -> Option<Intent> {
        Some(match word {
            "list" | "show" | "which" | "who" | "enumerate" | "browse" | "search" => Intent::List,
            "get" | "fetch" | "read" | "detail" | "info" | "describe" | "inspect" | "check"
            | "view" | "look" => Intent::Read,
            "create" | "add" | "new" | "make" | "register" | "upload" | "deploy" | "provision"
            | "open" | "post" | "submit" | "invite" | "generate" => Intent::Create,
            "delete" | "remove" | "revoke" | "destroy" | "drop" | "unregister" => Intent::Delete,
            "update" | "change" | "edit" | "modify" | "set" | "rename" | "toggle" | "configure"
            | "replace" | "patch" => Intent::Update,
            _ => return None,
        })
    }

    /// How well an operation's method and shape fit the intent, as a score factor.
    fn fit(self, method: Method, collection: bool) -> f32 {
        use Method::{Delete, Get, Patch, Post, Put};
        match (self, method) {
            (Intent::List, Get) if collection => 1.25,
            (Intent::List | Intent::Read, Get) => 1.0,
            (Intent::Read, _) => 0.5,
            (Intent::List, _) => 0.4,
            (Intent::Create, Post) => 1.2,
            (Intent::Create, Put) => 0.9,
            (Intent::Delete, Delete) => 1.3,
            (Intent::Update, Patch | Put) => 1.2,
            (Intent::Update, Post) => 0.8,
            _ => 0.45,
        }
    }
}

/// What `find` may narrow its results to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindOptions {
    /// How many operations to return (at most [`MAX_FIND_LIMIT`]).
    pub limit: usize,
    /// Only operations with this method.
    pub method: Option<Method>,
    /// Only operations of this product (or with this tag), compared case-insensitively.
    pub product: Option<String>,
}

impl Default for FindOptions {
    fn default() -> FindOptions {
        FindOptions {
            limit: DEFAULT_FIND_LIMIT,
            method: None,
            product: None,
        }
    }
}

/// One ranked operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<'s> {
    /// The operation.
    pub operation: &'s Operation,
    /// Its summary (empty when the spec gives none).
    pub summary: &'s str,
    /// Its score; higher ranks first.
    pub score: f32,
}

/// How many fields an operation has.
const FIELDS: usize = 7;

/// The fields of an operation that `find` reads, and their weights: `Scope` is the owner a
/// path starts with (`/zones/{zone_id}` in `/zones/{zone_id}/dns_records`), `Path` the rest of
/// its literal segments.
#[derive(Clone, Copy)]
enum Field {
    Scope,
    Path,
    Summary,
    OperationId,
    Tags,
    Description,
    Parameters,
}

impl Field {
    const ALL: [Field; FIELDS] = [
        Field::Scope,
        Field::Path,
        Field::Summary,
        Field::OperationId,
        Field::Tags,
        Field::Description,
        Field::Parameters,
    ];

    fn weight(self) -> f32 {
        match self {
            Field::Scope => 0.3,
            Field::Path => 2.5,
            Field::Summary => 3.0,
            Field::OperationId => 1.5,
            Field::Tags => 1.5,
            Field::Description => 0.4,
            Field::Parameters => 0.6,
        }
    }
}

/// The ranked-retrieval index of a spec's operations.
#[derive(Debug, Default)]
pub(crate) struct FindIndex {
    /// Per term, each operation that has it and its field-weighted, length-normalised count.
    postings: HashMap<String, Vec<(usize, f32)>>,
    /// Per operation, its summary.
    summaries: Vec<String>,
    /// Per operation, whether it names a collection (its last segment is not a parameter).
    collections: Vec<bool>,
    /// Per operation, the last term of its last literal path segment (`record` for
    /// `/zones/{zone_id}/dns_records`), if it has one.
    last_terms: Vec<Option<String>>,
}

impl FindIndex {
    /// Indexes `operations`, reading their text from the view `root`.
    pub(crate) fn build(root: &Node, operations: &[Operation]) -> FindIndex {
        let mut counts: Vec<[HashMap<String, f32>; FIELDS]> = Vec::with_capacity(operations.len());
        let mut lengths: Vec<[f32; FIELDS]> = Vec::with_capacity(operations.len());
        let mut summaries = Vec::with_capacity(operations.len());
        for operation in operations {
            let node = root
                .get("paths")
                .and_then(|paths| paths.get(&operation.path))
                .and_then(|item| item.get(operation.method.openapi_key()));
            let text = |key: &str| {
                node.and_then(|node| node.get(key))
                    .and_then(|value| value.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let parameters: Vec<String> = node
                .and_then(|node| node.get("parameters"))
                .and_then(|list| list.as_array())
                .unwrap_or(&[])
                .iter()
                .filter_map(|parameter| parameter.get("name")?.as_str().map(str::to_string))
                .collect();
            let summary = text("summary");
            let (scope, rest) = split_scope(&operation.path);
            let fields = Field::ALL.map(|field| match field {
                Field::Scope => scope.clone(),
                Field::Path => rest.clone(),
                Field::Summary => summary.clone(),
                Field::OperationId => operation.operation_id.clone().unwrap_or_default(),
                Field::Tags => operation.tags.join(" "),
                Field::Description => text("description"),
                Field::Parameters => parameters.join(" "),
            });
            let mut field_counts: [HashMap<String, f32>; FIELDS] = Default::default();
            let mut field_lengths = [0.0; FIELDS];
            for (index, text) in fields.iter().enumerate() {
                for term in terms(text) {
                    *field_counts[index].entry(term).or_default() += 1.0;
                    field_lengths[index] += 1.0;
                }
            }
            counts.push(field_counts);
            lengths.push(field_lengths);
            summaries.push(summary);
        }
        let documents = operations.len().max(1) as f32;
        let mut averages = [0.0f32; FIELDS];
        for field_lengths in &lengths {
            for (average, length) in averages.iter_mut().zip(field_lengths) {
                *average += length / documents;
            }
        }
        let mut postings: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
        for (document, (field_counts, field_lengths)) in
            counts.into_iter().zip(&lengths).enumerate()
        {
            let mut weighted: HashMap<String, f32> = HashMap::new();
            for (index, terms) in field_counts.into_iter().enumerate() {
                let average = averages[index].max(1.0);
                let norm = 1.0 - B + B * field_lengths[index] / average;
                let weight = Field::ALL[index].weight();
                for (term, count) in terms {
                    *weighted.entry(term).or_default() += weight * count / norm;
                }
            }
            for (term, weight) in weighted {
                postings.entry(term).or_default().push((document, weight));
            }
        }
        FindIndex {
            postings,
            summaries,
            collections: operations
                .iter()
                .map(|operation| !operation.path.trim_end_matches('/').ends_with('}'))
                .collect(),
            last_terms: operations
                .iter()
                .map(|operation| last_literal_term(&operation.path))
                .collect(),
        }
    }

    /// The operations that best match `query`, best first, within `options`.
    pub(crate) fn find<'s>(
        &'s self,
        operations: &'s [Operation],
        query: &str,
        options: &FindOptions,
    ) -> Vec<Found<'s>> {
        let Query {
            terms: query_terms,
            intent,
            nouns,
        } = read_query(query);
        let documents = operations.len() as f32;
        let mut scores = vec![0.0f32; operations.len()];
        for (term, weight) in &query_terms {
            let Some(postings) = self.postings.get(term) else {
                continue;
            };
            let frequency = postings.len() as f32;
            let idf = (1.0 + (documents - frequency + 0.5) / (frequency + 0.5)).ln();
            for &(document, tf) in postings {
                scores[document] += weight * idf * tf * (K1 + 1.0) / (tf + K1);
            }
        }
        let product = options.product.as_deref().map(str::to_ascii_lowercase);
        let mut ranked: Vec<Found<'s>> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, score)| *score > 0.0)
            .filter_map(|(document, score)| {
                let operation = &operations[document];
                if options
                    .method
                    .is_some_and(|method| method != operation.method)
                {
                    return None;
                }
                if let Some(product) = &product
                    && !operation
                        .tags
                        .iter()
                        .any(|tag| tag.eq_ignore_ascii_case(product))
                {
                    return None;
                }
                let collection = self.collections[document];
                let fit = intent.map_or(1.0, |intent| intent.fit(operation.method, collection));
                let named = match &self.last_terms[document] {
                    Some(last) if nouns.contains(last) && collection => NAMED_COLLECTION,
                    Some(last) if nouns.contains(last) => NAMED_ITEM,
                    _ => 1.0,
                };
                Some(Found {
                    operation,
                    summary: &self.summaries[document],
                    score: score * fit * named,
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.operation.path.len().cmp(&b.operation.path.len()))
                .then_with(|| a.operation.path.cmp(&b.operation.path))
                .then_with(|| a.operation.method.cmp(&b.operation.method))
        });
        ranked.truncate(options.limit.min(MAX_FIND_LIMIT));
        ranked
    }
}

/// A path's literal segments split into its scope (a first segment followed by a parameter
/// and more) and the rest; parameters are left out.
fn split_scope(path: &str) -> (String, String) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let literal = |segment: &str| !segment.starts_with('{');
    let scoped = segments.len() > 2 && literal(segments[0]) && !literal(segments[1]);
    let (scope, rest) = segments.split_at(usize::from(scoped));
    let rest: Vec<&str> = rest.iter().copied().filter(|s| literal(s)).collect();
    (scope.join(" "), rest.join(" "))
}

/// The terms the spec may use for `word`.
fn synonyms_of(word: &str) -> &'static [&'static str] {
    SYNONYMS
        .iter()
        .find(|(known, _)| *known == word)
        .map_or(&[], |(_, synonyms)| synonyms)
}

/// The last term of a path's last literal segment.
fn last_literal_term(path: &str) -> Option<String> {
    let segment = path
        .split('/')
        .rfind(|segment| !segment.is_empty() && !segment.starts_with('{'))?;
    terms(segment).last()
}

/// A query as `find` reads it.
#[derive(Debug)]
struct Query {
    /// Its weighted terms.
    terms: Vec<(String, f32)>,
    /// The intent of its first verb.
    intent: Option<Intent>,
    /// The terms naming what it is about (neither verbs nor possessives), synonyms included.
    nouns: Vec<String>,
}

/// The weighted terms of a query, the intent of its first verb and the things it names.
fn read_query(query: &str) -> Query {
    let mut text = query.to_lowercase();
    for (phrase, joined) in PHRASES {
        text = text.replace(phrase, joined);
    }
    let mut intent = None;
    let mut nouns = Vec::new();
    let mut leading = true;
    let mut weighted: Vec<(String, f32)> = Vec::new();
    let mut add = |term: String, weight: f32| match weighted.iter_mut().find(|(t, _)| *t == term) {
        Some((_, existing)) => *existing = existing.max(weight),
        None => weighted.push((term, weight)),
    };
    for term in terms(&text) {
        let (possessives, owned, owned_weight) = POSSESSIVES;
        if possessives.contains(&term.as_str()) {
            add(owned.to_string(), owned_weight);
            continue;
        }
        if STOPWORDS.contains(&term.as_str()) {
            continue;
        }
        let first = std::mem::replace(&mut leading, false);
        if let Some((_, stated, meanings)) = LEADING_VERBS.iter().find(|(verb, ..)| *verb == term)
            && first
        {
            intent = Some(*stated);
            for meaning in *meanings {
                add((*meaning).to_string(), SYNONYM_WEIGHT);
            }
            add(term, VERB_WEIGHT);
            continue;
        }
        if let Some(stated) = Intent::of(&term) {
            intent.get_or_insert(stated);
            add(term, VERB_WEIGHT);
            continue;
        }
        let synonyms = synonyms_of(&term);
        for synonym in synonyms {
            nouns.push((*synonym).to_string());
            add((*synonym).to_string(), SYNONYM_WEIGHT);
        }
        // A word the spec spells otherwise ("domain" for its zones) names the spec's term only;
        // a word that is a synonym both ways ("repo", "repository") names itself too.
        if synonyms.is_empty()
            || synonyms
                .iter()
                .any(|synonym| synonyms_of(synonym).contains(&term.as_str()))
        {
            nouns.push(term.clone());
        }
        add(term, 1.0);
    }
    Query {
        terms: weighted,
        intent,
        nouns,
    }
}

/// The search terms of a text: words split at anything not a letter or digit and at
/// camelCase humps, lower-cased and stemmed.
pub(crate) fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .flat_map(split_humps)
        .filter(|word| !word.is_empty())
        .map(|word| stem(&word.to_lowercase()))
}

/// Splits `listZonesForAccount` into its words.
fn split_humps(word: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let bytes = word.as_bytes();
    for at in 1..bytes.len() {
        if bytes[at].is_ascii_uppercase() && bytes[at - 1].is_ascii_lowercase() {
            words.push(&word[start..at]);
            start = at;
        }
    }
    words.push(&word[start..]);
    words
}

/// A light English stem: plurals and a few verb endings folded, so "records" finds "record".
fn stem(word: &str) -> String {
    if word.len() <= 3 {
        return word.to_string();
    }
    if let Some(base) = word.strip_suffix("ies") {
        return format!("{base}y");
    }
    if let Some(base) = word.strip_suffix("sses") {
        return format!("{base}ss");
    }
    for ending in ["ches", "shes", "xes"] {
        if let Some(base) = word.strip_suffix(ending) {
            return format!("{base}{}", &ending[..ending.len() - 2]);
        }
    }
    if word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::{Intent, Query, read_query, stem, terms};

    #[test]
    fn terms_split_humps_and_fold_plurals() {
        let split: Vec<String> = terms("listZones dns_records {zone_id} Policies").collect();
        assert_eq!(
            split,
            ["list", "zone", "dns", "record", "zone", "id", "policy"]
        );
        assert_eq!(stem("addresses"), "address");
        assert_eq!(stem("status"), "status");
    }

    #[test]
    fn the_first_verb_states_the_intent_and_products_bring_synonyms() {
        let Query {
            terms,
            intent,
            nouns,
        } = read_query("Delete the key-value namespace, then list it");
        assert_eq!(intent, Some(Intent::Delete));
        assert!(
            nouns.contains(&"kv".to_string()) && !nouns.contains(&"delete".to_string()),
            "{nouns:?}"
        );
        let names: Vec<&str> = terms.iter().map(|(term, _)| term.as_str()).collect();
        assert!(
            names.contains(&"kv") && names.contains(&"namespace"),
            "{names:?}"
        );
        let Query { terms, nouns, .. } = read_query("my domain");
        assert_eq!(nouns, ["zone"], "a domain is the spec's zone");
        assert!(terms.contains(&("zone".to_string(), 0.7)), "{terms:?}");
    }
}

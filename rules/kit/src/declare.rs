//! The declaration of a rule, as constants an author writes by hand.
//!
//! Every field is `'static` so that a whole [`RuleInfo`] can be a `const`; the kit turns it into
//! the contract's owned records when the host asks.

/// A rule's catalogue entry.
#[derive(Clone, Copy, Debug)]
pub struct Metadata {
    /// Stable identifier, unique in a rule set (for example `PH_Rule_SIGMA_1871`).
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// From 0 (informational) to 10 (critical).
    pub severity: u8,
    pub category: &'static str,
    /// MITRE ATT&CK tactic ids (`TA0002`).
    pub tactics: &'static [&'static str],
    /// MITRE ATT&CK technique ids (`T1569.002`).
    pub techniques: &'static [&'static str],
    pub remediation: &'static str,
    pub data_source: &'static str,
    /// The rule's own version, shown to operators.
    pub version: &'static str,
}

impl Metadata {
    /// Empty metadata, to complete a literal with `..Metadata::EMPTY`.
    pub const EMPTY: Metadata = Metadata {
        id: "",
        name: "",
        description: "",
        severity: 0,
        category: "",
        tactics: &[],
        techniques: &[],
        remediation: "",
        data_source: "",
        version: "0.0.0",
    };
}

/// An aggregate function the host computes over a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Count,
    CountDistinct,
    Sum,
    Min,
    Max,
    Average,
}

/// One aggregate a constraint reads.
#[derive(Clone, Copy, Debug)]
pub struct Aggregate {
    pub function: Function,
    /// The attribute it reads; `None` only for [`Function::Count`].
    pub attribute: Option<&'static str>,
}

/// One event query of a rule.
#[derive(Clone, Copy, Debug)]
pub struct Subpattern {
    /// Unique in the rule; incident attributes refer to it.
    pub name: &'static str,
    /// The query as written, for display only.
    pub query: &'static str,
    /// Attributes whose values form the group key.
    pub group_by: &'static [&'static str],
    /// Attributes [`crate::Rule::matches`] reads; the host sends only these.
    pub reads: &'static [&'static str],
    /// The `eventType` values this subpattern can match; empty means any.
    pub event_types: &'static [&'static str],
    /// Aggregates [`crate::Rule::constraint`] reads, in the order of [`crate::Window::values`].
    pub aggregates: &'static [Aggregate],
    /// The constraint as written (`COUNT(*) >= 1`), for display only.
    pub constraint: &'static str,
}

impl Subpattern {
    /// An empty subpattern, to complete a literal with `..Subpattern::EMPTY`.
    pub const EMPTY: Subpattern = Subpattern {
        name: "",
        query: "",
        group_by: &[],
        reads: &[],
        event_types: &[],
        aggregates: &[],
        constraint: "COUNT(*) >= 1",
    };
}

/// How two subpatterns combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combinator {
    And,
    Or,
    FollowedBy,
    NotFollowedBy,
}

/// `subpattern.attribute`, as FortiSIEM writes it.
#[derive(Clone, Copy, Debug)]
pub struct AttributeRef {
    pub subpattern: &'static str,
    pub attribute: &'static str,
}

/// Attributes that must be equal across two subpatterns.
#[derive(Clone, Copy, Debug)]
pub struct Join {
    pub left: AttributeRef,
    pub right: AttributeRef,
}

/// How the subpatterns combine; leave it empty for a rule with one subpattern.
#[derive(Clone, Copy, Debug)]
pub struct Relation {
    /// `operands[i] combinators[i] operands[i + 1]`, left to right.
    pub operands: &'static [&'static str],
    pub combinators: &'static [Combinator],
    pub joins: &'static [Join],
}

impl Relation {
    /// No relation: the rule's single subpattern triggers alone.
    pub const SINGLE: Relation = Relation {
        operands: &[],
        combinators: &[],
        joins: &[],
    };
}

/// An incident attribute and the group-by attribute it copies.
#[derive(Clone, Copy, Debug)]
pub struct IncidentAttribute {
    pub name: &'static str,
    pub source: AttributeRef,
}

/// Everything a rule declares.
#[derive(Clone, Copy, Debug)]
pub struct RuleInfo {
    pub metadata: Metadata,
    /// Length of the sliding event-time window, in seconds.
    pub window_seconds: u32,
    pub subpatterns: &'static [Subpattern],
    pub relation: Relation,
    pub incident_attributes: &'static [IncidentAttribute],
}

impl RuleInfo {
    /// An empty declaration, to complete a literal with `..RuleInfo::EMPTY`.
    pub const EMPTY: RuleInfo = RuleInfo {
        metadata: Metadata::EMPTY,
        window_seconds: 300,
        subpatterns: &[],
        relation: Relation::SINGLE,
        incident_attributes: &[],
    };

    /// The attributes the host encodes in each event of a batch, in order: every subpattern's
    /// `reads`, in subpattern order, each name once.
    pub fn inputs(&self) -> Vec<&'static str> {
        let mut inputs: Vec<&'static str> = Vec::new();
        for name in self
            .subpatterns
            .iter()
            .flat_map(|subpattern| subpattern.reads)
        {
            if !inputs.contains(name) {
                inputs.push(name);
            }
        }
        inputs
    }
}

//! The closed vocabularies of the contract. Each enum knows its wire spelling and the exact
//! "must be one of" list the original server printed, in the original order.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order the contract lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and database) spelling.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling; `None` for anything else.
            #[must_use]
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// `"a, b, c"`: the list used in the contract's error messages.
            #[must_use]
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Status of a run or a span.
    Status { Running => "running", Ok => "ok", Error => "error" }
);

impl Status {
    /// `ok` and `error` are final: a late re-send carrying `running` must not undo them.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, Status::Ok | Status::Error)
    }
}

wire_enum!(
    /// What a span stands for.
    SpanKind { Agent => "agent", Workflow => "workflow", Model => "model", Tool => "tool", Custom => "custom" }
);

wire_enum!(
    /// The type of an event's content.
    EventType {
        UserInput => "user_input",
        SystemMessage => "system_message",
        AssistantMessage => "assistant_message",
        Reasoning => "reasoning",
        ToolArguments => "tool_arguments",
        ToolResult => "tool_result",
        FinalResponse => "final_response",
        Custom => "custom",
    }
);

wire_enum!(
    /// How a score's value is to be read.
    ScoreDataType { Numeric => "numeric", Categorical => "categorical", Boolean => "boolean" }
);

wire_enum!(
    /// Who produced a score. Ingest accepts only `api`; the dashboard writes `human`.
    ScoreSource { Human => "human", Api => "api", Auto => "auto" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_follow_contract_order() {
        assert_eq!(Status::choices(), "running, ok, error");
        assert_eq!(SpanKind::choices(), "agent, workflow, model, tool, custom");
        assert_eq!(
            EventType::choices(),
            "user_input, system_message, assistant_message, reasoning, tool_arguments, tool_result, final_response, custom"
        );
        assert_eq!(ScoreDataType::choices(), "numeric, categorical, boolean");
    }

    #[test]
    fn parse_round_trips() {
        for kind in SpanKind::ALL {
            assert_eq!(SpanKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(Status::parse("success"), None);
        assert!(Status::Ok.is_final() && Status::Error.is_final() && !Status::Running.is_final());
    }
}

//! Finding codes: what the program can tell the admin, each under a stable dotted name with its
//! severity, what it means and what to do. A dissector's anomalies are codes, and so are the
//! analyzer's own findings; every code of a run is in one catalogue (`ctxscope::model::catalogue`),
//! built from the registry and the analyzer's own list.

use crate::types::Severity;

/// One finding code. Codes are `static` data: a dissector's come from its [`codes!`] enum and
/// are listed in its [`ProtoSpec`](crate::ProtoSpec).
#[derive(Debug, PartialEq, Eq)]
pub struct Code {
    /// Stable dotted name, prefixed by the protocol or the layer: `ica.bad_block`.
    pub name: &'static str,
    pub severity: Severity,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// What to do about it, in one line.
    pub action: &'static str,
}

/// An enum whose variants each stand for one [`Code`] (made by [`codes!`]).
pub trait Coded: Copy {
    /// Every variant's code, in variant order.
    const CODES: &'static [Code];

    /// The variant's position in [`Coded::CODES`].
    fn index(self) -> usize;

    fn code(self) -> &'static Code {
        // In range: the enum and its table are made from one list (see `codes!`).
        &Self::CODES[self.index()]
    }
}

/// Declares an enum of finding codes from one list: each variant with its code's name,
/// severity, meaning (which becomes the variant's documentation) and what to do. The enum
/// implements [`Coded`] and converts to its `&'static Code`.
///
/// ```
/// ctxscope_dissectors::codes! {
///     /// What the made-up protocol reports.
///     pub enum Kind {
///         Greeting = "xyzzy.greeting", Info,
///             "the stream opened with a greeting",
///             "nothing";
///     }
/// }
/// use ctxscope_dissectors::{Coded, Severity};
/// assert_eq!(Kind::Greeting.code().severity, Severity::Info);
/// ```
#[macro_export]
macro_rules! codes {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $(
                $variant:ident = $code:literal, $severity:ident,
                    $meaning:literal,
                    $action:literal;
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl $crate::Coded for $name {
            const CODES: &'static [$crate::Code] = &[$(
                $crate::Code {
                    name: $code,
                    severity: $crate::Severity::$severity,
                    meaning: $meaning,
                    action: $action,
                },
            )*];

            fn index(self) -> usize {
                self as usize
            }
        }

        impl From<$name> for &'static $crate::Code {
            fn from(kind: $name) -> &'static $crate::Code {
                $crate::Coded::code(kind)
            }
        }
    };
}

/// A dissector's anomalies: the [`codes!`](crate::codes) enum `AnomalyKind` of its module,
/// which its [`ProtoSpec`](crate::ProtoSpec) lists as `anomalies`. The entries are those of
/// `codes!`.
macro_rules! anomalies {
    ($($entry:tt)*) => {
        $crate::codes! {
            /// The anomalies this module's dissector reports (see the module's documentation).
            pub enum AnomalyKind {
                $($entry)*
            }
        }
    };
}
pub(crate) use anomalies;

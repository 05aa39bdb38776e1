//! `ValueEnum` for the core's own enums, which know nothing of clap: each
//! value's name, aliases and the help `--help` lists for it.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::bench::Scenario;
use crate::decode::DecodeMode;
use crate::encoding::TextEncoding;
use crate::log::LogFormat;
use crate::protocol::Proto;

/// Implements `ValueEnum` for an enum of the core, which knows nothing of
/// clap: `Variant => "name" | "alias": "help"`, alias and help optional.
macro_rules! value_enum {
    ($type:ident { $($variant:ident => $name:literal $(| $alias:literal)? $(: $help:literal)?),+ $(,)? }) => {
        impl ValueEnum for $type {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($type::$variant),+]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($type::$variant => PossibleValue::new($name)$(.alias($alias))?$(.help($help))?),+
                })
            }
        }
    };
}

// The core's own enums, spelt for the command line: each value's name,
// aliases and the help `--help` lists for it.
value_enum!(Proto {
    Tcp => "tcp": "TCP only",
    Udp => "udp": "UDP only: each datagram is one message",
    Both => "both": "TCP and UDP on the same address and port",
});
value_enum!(TextEncoding {
    Utf8 => "utf-8" | "utf8",
    Gbk => "gbk",
});
value_enum!(DecodeMode {
    Auto => "auto": "UTF-8 if valid, else GBK if it decodes cleanly, else escaped bytes",
    Utf8 => "utf-8" | "utf8",
    Gbk => "gbk",
    Hex => "hex",
});
value_enum!(LogFormat {
    Text => "text",
    Json => "json",
});
value_enum!(Scenario {
    Rr => "rr": "Persistent connections, each sending a line and waiting for its ack",
    Conn => "conn": "Connect, one line, ack, close, again and again (like `echo hi | nc -N`)",
    Pipeline => "pipeline": "Persistent connections writing --depth lines at once, then reading --depth acks",
    Idle => "idle": "Hold --idle silent connections while fresh clients measure their time to an answer",
});

//! Named values of CGP fields (PROTOCOLS.md 3.2-3.4).
//!
//! Every coded field keeps unknown values as `Other(code)`: the decoder never rejects a value
//! just because this table does not know it.

use serde::Serialize;

/// Declares a field whose wire code maps to a name, keeping unknown codes as `Other`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A code this dissector has no name for.
            Other($repr),
        }

        impl $name {
            pub const fn from_code(code: $repr) -> $name {
                match code {
                    $($code => $name::$variant,)+
                    other => $name::Other(other),
                }
            }

            pub const fn code(self) -> $repr {
                match self {
                    $($name::$variant => $code,)+
                    $name::Other(code) => code,
                }
            }
        }
    };
}

/// A CGP command byte (3.2). Unknown command bytes are not represented here: they are counted
/// and skipped by their length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    BindRequest,
    BindResponse,
    FinishRequest,
    FinishResponse,
    Nop,
    ChannelOpenRequest,
    ChannelOpenResponse,
    ChannelClose,
    Data,
    DataRealtime,
    DataRealtimeWithAck,
}

impl Command {
    pub const ALL: [Command; 11] = [
        Command::BindRequest,
        Command::BindResponse,
        Command::FinishRequest,
        Command::FinishResponse,
        Command::Nop,
        Command::ChannelOpenRequest,
        Command::ChannelOpenResponse,
        Command::ChannelClose,
        Command::Data,
        Command::DataRealtime,
        Command::DataRealtimeWithAck,
    ];

    /// Commands are numbered 0x01..=0x0B in the order of [`Command::ALL`].
    pub fn from_code(code: u8) -> Option<Command> {
        Command::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    pub const fn code(self) -> u8 {
        self as u8 + 1
    }

    /// DATA and the realtime data commands, which carry channel payload.
    pub const fn carries_data(self) -> bool {
        matches!(
            self,
            Command::Data | Command::DataRealtime | Command::DataRealtimeWithAck
        )
    }

    /// The name used in the protocol's own documentation, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Command::BindRequest => "BIND_REQUEST",
            Command::BindResponse => "BIND_RESPONSE",
            Command::FinishRequest => "FINISH_REQUEST",
            Command::FinishResponse => "FINISH_RESPONSE",
            Command::Nop => "NOP",
            Command::ChannelOpenRequest => "CHANNEL_OPEN_REQUEST",
            Command::ChannelOpenResponse => "CHANNEL_OPEN_RESPONSE",
            Command::ChannelClose => "CHANNEL_CLOSE",
            Command::Data => "DATA",
            Command::DataRealtime => "DATA_REALTIME",
            Command::DataRealtimeWithAck => "DATA_REALTIME_WITH_ACK",
        }
    }
}

wire_enum! {
    /// FINISH_REQUEST/RESPONSE closeType.
    pub enum CloseType: u8 {
        Close = 0,
        Restart = 1,
    }
}

wire_enum! {
    /// How a channel delimits its data.
    pub enum Framing: u8 {
        Stream = 0,
        Message = 1,
    }
}

wire_enum! {
    /// Channel priority; a realtime channel is the one DATA_REALTIME messages carry.
    pub enum Priority: u8 {
        Low = 0,
        Normal = 1,
        Realtime = 2,
    }
}

wire_enum! {
    /// CHANNEL_OPEN_RESPONSE status.
    pub enum OpenStatus: u16 {
        Accepted = 0,
        Rejected = 1,
        Failure = 2,
        ServiceFailure = 3,
    }
}

wire_enum! {
    /// The protocol a Citrix.TcpProxyService channel carries (3.4).
    pub enum ProxyProtocol: u16 {
        Unknown = 0,
        Unspecified = 1,
        Mixed = 2,
        Ica = 3,
        Http = 4,
        Rdp = 5,
    }
}

wire_enum! {
    /// ENDPOINT_ADDRESS addrType. Ticket types carry secrets.
    pub enum EndpointKind: u8 {
        Default = 0,
        Hostname = 1,
        StaTicket = 2,
        SecurityTicket = 3,
    }
}

wire_enum! {
    /// SECURITY_TICKET ticketType.
    pub enum TicketKind: u8 {
        Sta = 0,
    }
}

/// Which end opened a channel: the low bit of the channel id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    Client,
    Server,
}

impl Initiator {
    pub const fn of_channel(channel: u16) -> Initiator {
        if channel & 1 == 0 {
            Initiator::Client
        } else {
            Initiator::Server
        }
    }
}

/// The service name of the TCP proxy that carries ICA (and RDP, HTTP) inside CGP.
pub const TCP_PROXY_SERVICE: &str = "Citrix.TcpProxyService";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_their_codes() {
        for (i, cmd) in Command::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(cmd.code()), i + 1);
            assert_eq!(Command::from_code(cmd.code()), Some(cmd));
        }
        assert_eq!(Command::from_code(0x09), Some(Command::Data));
        assert_eq!(Command::from_code(0x0B), Some(Command::DataRealtimeWithAck));
        assert_eq!(Command::from_code(0), None);
        assert_eq!(Command::from_code(0x0C), None);
        assert_eq!(Command::from_code(0xFF), None);
    }

    #[test]
    fn coded_fields_keep_unknown_values() {
        assert_eq!(ProxyProtocol::from_code(3), ProxyProtocol::Ica);
        assert_eq!(ProxyProtocol::from_code(9), ProxyProtocol::Other(9));
        assert_eq!(ProxyProtocol::Other(9).code(), 9);
        assert_eq!(OpenStatus::from_code(3), OpenStatus::ServiceFailure);
        assert_eq!(CloseType::from_code(1), CloseType::Restart);
        assert_eq!(Priority::from_code(2), Priority::Realtime);
        assert_eq!(EndpointKind::from_code(2), EndpointKind::StaTicket);
        assert_eq!(Initiator::of_channel(4), Initiator::Client);
        assert_eq!(Initiator::of_channel(5), Initiator::Server);
    }
}

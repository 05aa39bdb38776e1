//! The capture flags `tcpack server` and `tcpack client` share.

/// `--capture`, `--capture-pcap` and `--capture-max`, for the server and the client.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CaptureArgs {
    /// Keep every message both ways in FILE: a JSON Lines transcript that `tcpack replay` plays back
    #[arg(long, value_name = "FILE", help_heading = "Capture")]
    pub capture: Option<std::path::PathBuf>,

    /// The same traffic as a pcap file that Wireshark and tshark follow as TCP streams (made-up packets)
    #[arg(long, value_name = "FILE", help_heading = "Capture")]
    pub capture_pcap: Option<std::path::PathBuf>,

    /// Stop adding to each capture file past this many bytes (a log line says so; serving goes on)
    #[arg(long, value_name = "BYTES", help_heading = "Capture", value_parser = clap::value_parser!(u64).range(1..))]
    pub capture_max: Option<u64>,
}

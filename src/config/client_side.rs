//! The configurations of the commands that connect out (`client`, `bench`,
//! `replay`), carried over from their flags as they are, and the capture
//! options the server shares.

use crate::bench::{BenchConfig, BenchJob, MergeConfig, ShardSpec};
use crate::capture::CaptureOptions;
use crate::cli::{BenchArgs, BenchCommand, CaptureArgs, ClientArgs, ClientTlsArgs, ReplayArgs};
use crate::client::ClientConfig;
use crate::client_stream::TlsOptions;
use crate::replay::{PlayedSide, ReplayConfig};

impl From<ClientArgs> for ClientConfig {
    fn from(args: ClientArgs) -> Self {
        Self {
            capture: (&args.capture).into(),
            target: args.host.into_iter().chain(args.port).collect(),
            messages: args.messages,
            count: args.count,
            interval: args.interval,
            encoding: args.encoding,
            timeout: args.timeout,
            no_wait: args.no_wait,
            hex: args.hex,
            framing: args.framing,
            quiet: args.quiet,
            udp: args.udp,
            retries: args.retries,
            tls: args.tls.into(),
        }
    }
}

impl From<BenchArgs> for BenchJob {
    fn from(args: BenchArgs) -> Self {
        if let Some(BenchCommand::Merge(merge)) = args.command {
            return BenchJob::Merge(MergeConfig {
                files: merge.files,
                json: merge.json,
                per_shard: merge.per_shard,
                max_skew: merge.max_skew,
            });
        }
        BenchJob::Load(Box::new(BenchConfig {
            // clap requires it unless `merge` is given.
            target: args.target.unwrap_or_default(),
            scenario: args.scenario,
            connections: args.connections,
            messages: args.messages,
            size: args.size,
            duration: args.duration,
            warmup: args.warmup,
            depth: args.depth,
            idle: args.idle,
            timeout: args.timeout,
            server_pid: args.server_pid,
            framing: args.framing,
            hex: args.hex,
            json: args.json,
            udp: args.udp,
            tls: args.tls.into(),
            shard: match (args.shard, args.shards) {
                (Some((index, of)), _) => Some(ShardSpec::Fixed { index, of }),
                (None, Some(of)) => Some(ShardSpec::FromEnv { of }),
                (None, None) => None,
            },
            start_at: args.start_at,
            hdr_log: args.hdr_log,
            quiet: args.quiet,
        }))
    }
}

impl From<ClientTlsArgs> for TlsOptions {
    fn from(args: ClientTlsArgs) -> Self {
        Self {
            enabled: args.tls,
            ca: args.tls_ca,
            insecure: args.insecure,
            name: args.tls_name,
            cert: args.tls_cert,
            key: args.tls_key,
        }
    }
}

impl From<&CaptureArgs> for CaptureOptions {
    fn from(args: &CaptureArgs) -> Self {
        Self {
            transcript: args.capture.clone(),
            pcap: args.capture_pcap.clone(),
            max: args.capture_max,
            queue_bytes: None,
        }
    }
}

impl From<ReplayArgs> for ReplayConfig {
    fn from(args: ReplayArgs) -> Self {
        let side = match args.to {
            Some(target) => PlayedSide::Client {
                target,
                speed: args.speed,
                serial: args.serial,
                ignore: args.ignore,
                timeout: args.timeout,
            },
            None if args.serve => PlayedSide::Server { bind: args.bind },
            None => PlayedSide::Rules,
        };
        Self {
            file: args.file,
            side,
        }
    }
}

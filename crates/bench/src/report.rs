//! The Markdown report of one run.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::baselines::CfApproach;
use crate::inprocess::InProcess;
use crate::load::{Churn, HeadOfLine, Throughput};
use crate::loopback_api::SLOW_DELAY;
use crate::node_clients::Timed;
use crate::stats::{Summary, figure, ms, ms_minus, row, warm_up};
use crate::wrk::WrkRun;

/// One client's timings, by call label.
pub struct ClientFigures {
    name: &'static str,
    calls: BTreeMap<&'static str, (Summary, usize, Option<usize>)>,
}

impl ClientFigures {
    /// No timings yet.
    pub fn new(name: &'static str) -> ClientFigures {
        ClientFigures {
            name,
            calls: BTreeMap::new(),
        }
    }

    /// The timings a Node client run gave.
    pub fn from_node(name: &'static str, timed: &BTreeMap<&'static str, Timed>) -> ClientFigures {
        let mut figures = ClientFigures::new(name);
        for (label, t) in timed {
            figures.add(label, t.latency, t.text_chars, None);
        }
        figures
    }

    /// Adds a call's latency, its result's characters and, when known, its response's bytes.
    pub fn add(
        &mut self,
        label: &'static str,
        latency: Summary,
        chars: usize,
        bytes: Option<usize>,
    ) {
        self.calls.insert(label, (latency, chars, bytes));
    }

    fn latency(&self, label: &str) -> Summary {
        self.calls.get(label).map(|c| c.0).unwrap_or_default()
    }

    fn size(&self, label: &str) -> String {
        match self.calls.get(label) {
            Some((_, chars, Some(bytes))) => format!("{chars} chars of text, {bytes} B response"),
            Some((_, chars, None)) => format!("{chars} chars of text"),
            None => String::new(),
        }
    }
}

/// Resident set sizes of the server over the run.
#[derive(Default)]
pub struct Memory {
    /// Right after start-up, spec loaded.
    pub idle_mib: f64,
    /// After the latency runs.
    pub warm_mib: f64,
    /// After the throughput loads, as the soak starts.
    pub loaded_mib: Option<f64>,
    /// After the soak's first tenth, from which its growth is measured.
    pub settled_mib: Option<f64>,
    /// After the soak.
    pub soaked_mib: Option<f64>,
    /// As the session churn starts, from which its growth is measured.
    pub unchurned_mib: Option<f64>,
    /// After the session churn.
    pub churned_mib: Option<f64>,
    /// The peak.
    pub peak_mib: f64,
}

/// Everything one run measured; parts left out of the run stay empty and are not printed.
pub struct Report {
    /// `/proc/loadavg` when the run started.
    pub load_average: String,
    /// Measured calls per latency figure.
    pub iterations: usize,
    /// The in-process breakdown.
    pub inside: Option<InProcess>,
    /// The loopback API's own latency.
    pub upstream: Summary,
    /// Codemode through each client, the raw client first.
    pub clients: Vec<ClientFigures>,
    /// The server's CPU time per call of the raw client, by call label.
    pub server_cpu: Vec<(&'static str, Duration)>,
    /// The SDK floor through the same clients, in the same order.
    pub floors: Vec<ClientFigures>,
    /// Cloudflare's approach.
    pub cf: Option<CfApproach>,
    /// Sessions of the throughput runs.
    pub sessions: usize,
    /// Small searches, then small executes, under load through the raw client.
    pub throughput: Option<(Throughput, Throughput)>,
    /// The same loads through `wrk`.
    pub wrk: Vec<WrkRun>,
    /// The mixed soak: its first tenth, then the rest.
    pub soak: Option<(Throughput, Throughput)>,
    /// Sessions opened and closed.
    pub churn: Option<Churn>,
    /// One entry per head-of-line run.
    pub head_of_line: Vec<HeadOfLine>,
    /// Memory.
    pub memory: Memory,
    /// Spawn to `/readyz` answering 200, one per server started.
    pub startups: Vec<Duration>,
}

impl Report {
    /// An empty report of a run started at `load_average`.
    pub fn new(load_average: &str, iterations: usize, sessions: usize) -> Report {
        Report {
            load_average: load_average.to_string(),
            iterations,
            inside: None,
            upstream: Summary::default(),
            clients: Vec::new(),
            server_cpu: Vec::new(),
            floors: Vec::new(),
            cf: None,
            sessions,
            throughput: None,
            wrk: Vec::new(),
            soak: None,
            churn: None,
            head_of_line: Vec::new(),
            memory: Memory::default(),
            startups: Vec::new(),
        }
    }

    /// Prints the report on stdout.
    pub fn print(&self) {
        println!(
            "Load average at start: {} ({} CPUs). {} measured calls per latency figure, after {} of warm-up.\n",
            self.load_average,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.iterations,
            warm_up(self.iterations)
        );
        if !self.clients.is_empty() {
            self.print_latency();
        }
        if !self.floors.is_empty() || self.cf.is_some() {
            self.print_baselines();
        }
        if let Some(inside) = &self.inside {
            println!(
                "\nIn-process breakdown (the sandbox pool and gateway called directly, no MCP):\n"
            );
            header();
            inside.print();
        }
        if self.throughput.is_some() || self.soak.is_some() || self.churn.is_some() {
            self.print_load();
        }
        if !self.wrk.is_empty() {
            self.print_wrk();
        }
        if !self.head_of_line.is_empty() {
            self.print_head_of_line();
        }
        self.print_memory();
    }

    fn print_latency(&self) {
        println!("Per-call latency over MCP (Streamable HTTP, loopback, one session):\n");
        header();
        for (i, client) in self.clients.iter().enumerate() {
            let (trivial, full) = if i == 0 {
                ("≤ 1 ms", "≤ 3 ms")
            } else {
                ("", "")
            };
            let name = client.name;
            row(
                &format!("{name}: search `async () => 1`"),
                client.latency("trivial"),
                trivial,
            );
            row(
                &format!("{name}: search, full list ({})", client.size("full")),
                client.latency("full"),
                full,
            );
            row(
                &format!("{name}: execute, one API request"),
                client.latency("execute"),
                "",
            );
            let overhead = client.latency("execute").median.as_secs_f64()
                - client.latency("trivial").median.as_secs_f64()
                - self.upstream.median.as_secs_f64();
            figure(
                &format!("{name}: execute − trivial search − API's own latency"),
                &format!("{:.3} ms", overhead * 1000.0),
                "≤ 1 ms",
            );
        }
        row(
            "the loopback API alone (one keep-alive connection)",
            self.upstream,
            "",
        );
        for (label, cpu) in &self.server_cpu {
            figure(
                &format!("server CPU per call (all threads), raw client: {label}"),
                &ms(*cpu),
                "",
            );
        }
    }

    fn print_baselines(&self) {
        println!(
            "\nSame-run baselines: the TypeScript SDK's floor (`sdk-floor/`) and Cloudflare's approach (`cf-approach/`):\n"
        );
        header();
        for (index, floor) in self.floors.iter().enumerate() {
            let name = floor.name;
            row(
                &format!("SDK floor, {name}: trivial"),
                floor.latency("trivial"),
                "",
            );
            row(
                &format!("SDK floor, {name}: list ({})", floor.size("full")),
                floor.latency("full"),
                "",
            );
            let Some(client) = self.clients.get(index) else {
                continue;
            };
            let sdk = index > 0;
            for (label, target) in [("trivial", "≤ +1 ms"), ("full", "≤ +1.5 ms")] {
                figure(
                    &format!("codemode above the floor, {name}: {label} (median − median)"),
                    &ms_minus(client.latency(label).median, floor.latency(label).median),
                    if sdk { target } else { "" },
                );
            }
        }
        let Some(cf) = &self.cf else {
            return;
        };
        figure(
            &format!(
                "Cloudflare's approach: search, full list (median of {} calls)",
                cf.calls.saturating_sub(1)
            ),
            &ms(cf.median),
            "",
        );
        for (index, client) in self.clients.iter().enumerate() {
            let ours = client.latency("full").median.as_secs_f64();
            let target = if index == 0 { "≥ 50×" } else { "" };
            figure(
                &format!(
                    "ratio: Cloudflare's approach / codemode full search, {}",
                    client.name
                ),
                &format!("{:.1}×", cf.median.as_secs_f64() / ours),
                target,
            );
        }
    }

    fn print_load(&self) {
        println!(
            "\nThroughput: {} sessions, each on its own keep-alive connection, calling back to back (raw client):\n",
            self.sessions
        );
        println!("| load | calls/s | p50 | p99 | answered | errors | target |");
        println!("|---|---|---|---|---|---|---|");
        let mut runs = Vec::new();
        if let Some((searches, executes)) = &self.throughput {
            runs.push(("small searches", searches, "≥ 2,000/s, 0 errors"));
            runs.push((
                "small executes (one API request)",
                executes,
                "≥ 1,000/s, 0 errors",
            ));
        }
        if let Some((first, rest)) = &self.soak {
            runs.push((
                "soak: searches and executes in turn, first tenth",
                first,
                "0 errors",
            ));
            runs.push((
                "soak: searches and executes in turn, the rest",
                rest,
                "0 errors",
            ));
        }
        for &(name, t, target) in &runs {
            println!(
                "| {name} | {:.0} | {} | {} | {} | {} | {target} |",
                t.per_sec,
                ms(t.latency.median),
                ms(t.latency.p99),
                t.latency.count,
                t.errors
            );
        }
        if let Some(churn) = &self.churn {
            println!(
                "| session churn: open, one search, close (10 at a time) | {:.0} sessions/s | | | {} | {} | 0 errors |",
                churn.per_sec, churn.sessions, churn.errors
            );
        }
        for (name, t, _) in runs {
            if let Some(error) = &t.first_error {
                println!("\nFirst error of the {name}: {}", one_line(error));
            }
        }
    }

    fn print_wrk(&self) {
        println!(
            "\nThroughput through `wrk` (one thread, {} connections, each request on the next of {} sessions):\n",
            self.sessions, self.sessions
        );
        println!("| load | calls/s | p50 | p99 | answered | errors | target |");
        println!("|---|---|---|---|---|---|---|");
        for run in &self.wrk {
            let (name, target) = match run.call.0 {
                "search" => ("small searches", "≥ 2,000/s, 0 errors"),
                _ => ("small executes (one API request)", "≥ 1,000/s, 0 errors"),
            };
            println!(
                "| {name} | {:.0} | {} | {} | {} | {} | {target} |",
                run.per_sec,
                ms(run.p50),
                ms(run.p99),
                run.answered,
                run.errors
            );
        }
    }

    fn print_head_of_line(&self) {
        println!(
            "\nHead-of-line: a probe session's small search while other sessions each wait {} s on the API (fresh server per row):\n",
            SLOW_DELAY.as_secs()
        );
        println!(
            "| sessions waiting | probe usual (median) | probe during: median | p99 | max | answered | slow executes done / failed | target |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for h in &self.head_of_line {
            let unanswered = h
                .unanswered
                .map(|d| format!(", then no answer in {:.0} s", d.as_secs_f64()))
                .unwrap_or_default();
            println!(
                "| {} | {} | {} | {} | {} | {}{unanswered} | {} / {} | ≤ usual + 10 ms |",
                h.waiting,
                ms(h.usual.median),
                ms(h.during.median),
                ms(h.during.p99),
                ms(h.during.max),
                h.during.count,
                h.slow_done,
                h.slow_errors
            );
        }
        for h in &self.head_of_line {
            if let Some(error) = &h.first_slow_error {
                println!(
                    "\nFirst slow-execute error with {} waiting: {}",
                    h.waiting,
                    one_line(error)
                );
            }
        }
    }

    fn print_memory(&self) {
        let m = &self.memory;
        let growth = |mib: f64| {
            format!(
                "{mib:.1} MiB ({:+.1}% vs warm)",
                (mib / m.warm_mib - 1.0) * 100.0
            )
        };
        println!("\nMemory and start-up:\n");
        header();
        figure(
            "RSS idle, spec loaded",
            &format!("{:.1} MiB", m.idle_mib),
            "≤ 200 MiB",
        );
        figure(
            "RSS after the latency runs (warm)",
            &format!("{:.1} MiB", m.warm_mib),
            "≤ 200 MiB",
        );
        if let Some(mib) = m.loaded_mib {
            figure(
                "RSS after the throughput loads, as the soak starts",
                &growth(mib),
                "",
            );
        }
        if let (Some((first, rest)), Some(settled)) = (&self.soak, m.settled_mib) {
            figure(
                &format!("RSS after the soak's first {} calls", first.latency.count),
                &growth(settled),
                "",
            );
            if let Some(mib) = m.soaked_mib {
                let since_start = m.loaded_mib.map_or(String::new(), |start| {
                    format!(
                        ", {:+.1}% since the soak started",
                        (mib / start - 1.0) * 100.0
                    )
                });
                figure(
                    &format!(
                        "RSS after the soak's other {} calls (growth over them)",
                        rest.latency.count
                    ),
                    &format!(
                        "{mib:.1} MiB ({:+.1}%; {:+.1}% vs warm{since_start})",
                        (mib / settled - 1.0) * 100.0,
                        (mib / m.warm_mib - 1.0) * 100.0
                    ),
                    "within 10%",
                );
            }
        }
        if let (Some(churn), Some(mib), Some(start)) = (&self.churn, m.churned_mib, m.unchurned_mib)
        {
            figure(
                &format!(
                    "RSS after {} sessions opened and closed (growth over them)",
                    churn.sessions
                ),
                &format!(
                    "{mib:.1} MiB ({:+.1}% from {start:.1} MiB as they started; {:+.1}% vs warm)",
                    (mib / start - 1.0) * 100.0,
                    (mib / m.warm_mib - 1.0) * 100.0
                ),
                "within 10%",
            );
        }
        figure("peak RSS", &format!("{:.1} MiB", m.peak_mib), "");
        let startup = Summary::of(self.startups.clone());
        figure(
            &format!(
                "start-up, spawn to /readyz answering (median of {})",
                startup.count
            ),
            &ms(startup.median),
            "≤ 2 s",
        );
    }
}

fn header() {
    println!("| measurement | median | p90 | p99 | target |");
    println!("|---|---|---|---|---|");
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

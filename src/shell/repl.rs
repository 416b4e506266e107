//! The interactive loop (rustyline, history, multi-line statements) and the
//! same loop over piped standard input.

use std::io::BufRead;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::command::{Command, help};
use super::exec::Shell;
use crate::report::one_line;

/// What the loop should do after a line.
enum Flow {
    Continue,
    Quit,
}

/// Feeds lines to the shell: `\` commands at the start of a statement run at
/// once, SQL accumulates until a line ends with `;`.
struct LineFeeder {
    buffer: String,
}

impl LineFeeder {
    async fn feed(&mut self, shell: &mut Shell, line: &str) -> anyhow::Result<Flow> {
        let trimmed = line.trim();
        if self.buffer.trim().is_empty() && trimmed.starts_with('\\') {
            self.buffer.clear();
            return run_command(shell, trimmed).await;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if trimmed.ends_with(';') {
            let sql = std::mem::take(&mut self.buffer);
            shell.run_script(&sql).await?;
        }
        Ok(Flow::Continue)
    }

    async fn flush(&mut self, shell: &mut Shell) -> anyhow::Result<()> {
        let sql = std::mem::take(&mut self.buffer);
        if !sql.trim().is_empty() {
            shell.run_script(&sql).await?;
        }
        Ok(())
    }
}

async fn run_command(shell: &mut Shell, text: &str) -> anyhow::Result<Flow> {
    let cmd: Command = text.parse().map_err(anyhow::Error::msg)?;
    match cmd {
        Command::Quit => return Ok(Flow::Quit),
        Command::Help => print!("{}", help()),
        Command::ListTables => {
            shell
                .run_script(
                    "SELECT table_name FROM information_schema.tables \
                     WHERE table_schema = 'public' ORDER BY table_name;",
                )
                .await?;
        }
        Command::Describe(t) => shell.run_script(&format!("DESCRIBE {t};")).await?,
        Command::Format(f) => shell.format = f,
        Command::Plot(kind, path, units) => shell.plot(kind, &path, units)?,
    }
    Ok(Flow::Continue)
}

/// The interactive loop. Errors are printed and the loop goes on.
pub(crate) async fn run(shell: &mut Shell) -> anyhow::Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".gridsql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "gridsql {}: SQL over gridded data. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );
    let mut feeder = LineFeeder {
        buffer: String::new(),
    };
    loop {
        let prompt = if feeder.buffer.trim().is_empty() {
            "gridsql> "
        } else {
            "     ..> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match feeder.feed(shell, &line).await {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => {
                        feeder.buffer.clear();
                        eprintln!("Error: {}", one_line(&crate::report::error_chain(&e)));
                    }
                }
            }
            Err(ReadlineError::Interrupted) => {
                feeder.buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// Statements and commands from piped standard input; stops at the first error.
pub(crate) async fn run_piped(shell: &mut Shell) -> anyhow::Result<()> {
    let mut feeder = LineFeeder {
        buffer: String::new(),
    };
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        if let Flow::Quit = feeder.feed(shell, &line).await? {
            return Ok(());
        }
    }
    feeder.flush(shell).await
}

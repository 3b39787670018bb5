//! What a chat line means: a command (`/nick`, `/who`, `/quit`) or something to say.

/// One line from a member, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`: change nickname (validated by the room).
    Nick(&'a str),
    /// `/who`: list who is online.
    Who,
    /// `/quit`: leave the room.
    Quit,
    /// `/help`: list the commands.
    Help,
    /// A line to broadcast. `//text` says `/text`, for lines that must start with a slash.
    Say(&'a str),
    /// A blank line: nothing to do.
    Blank,
    /// `/something` we do not know.
    Unknown(&'a str),
}

impl<'a> Command<'a> {
    /// Parses one line (without its line end).
    pub fn parse(line: &'a str) -> Command<'a> {
        let Some(rest) = line.strip_prefix('/') else {
            return if line.trim().is_empty() { Command::Blank } else { Command::Say(line) };
        };
        if rest.starts_with('/') {
            return Command::Say(rest);
        }
        let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        match name {
            "nick" => Command::Nick(arg.trim()),
            "who" | "names" => Command::Who,
            "quit" | "exit" => Command::Quit,
            "help" => Command::Help,
            _ => Command::Unknown(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Command::{self, *};

    #[test]
    fn parses_commands_and_messages() {
        assert_eq!(Command::parse("/nick  alice "), Nick("alice"));
        assert_eq!(Command::parse("/nick"), Nick(""));
        assert_eq!(Command::parse("/who"), Who);
        assert_eq!(Command::parse("/quit"), Quit);
        assert_eq!(Command::parse("/help"), Help);
        assert_eq!(Command::parse("/dance now"), Unknown("dance"));
        assert_eq!(Command::parse("hi there"), Say("hi there"));
        assert_eq!(Command::parse("//who"), Say("/who"));
        assert_eq!(Command::parse("   "), Blank);
    }
}

package fake

import (
	"path"
	"strconv"
	"strings"
	"time"
)

// Behaviour is what a started container does: it writes Output, then runs
// for Runs and exits with ExitCode (OOMKilled says the kernel killed it),
// or runs until stopped when Forever is set.
type Behaviour struct {
	// Output lines go to the container's log (stdout).
	Output []string
	// Files maps a path inside the container to what is written there
	// (through the container's mounts, e.g. /dev/termination-log).
	Files map[string]string
	// Runs is how long the container runs before it exits.
	Runs time.Duration
	// ExitCode on exit.
	ExitCode int32
	// OOMKilled makes the exit look like the kernel's OOM killer: reason
	// OOMKilled, exit code 137.
	OOMKilled bool
	// Forever: the container runs until it is stopped.
	Forever bool
	// IgnoresTERM: stopping it takes the kill (exit 137), as for a shell
	// or sleep running as PID 1 without a trap; otherwise SIGTERM ends it
	// with TermExitCode.
	IgnoresTERM  bool
	TermExitCode int32
}

// behaviourOf reads argv (command then args) the way a shell would run
// it, roughly: `sh -c "<script>"` runs the script's simple commands in
// order (echo with optional > or >> redirect, sleep, exit, true, false;
// other commands succeed at once); a loop runs forever; `sleep N`, `true`,
// `false`, `echo` work on their own; any other program is taken to be a
// server and runs until stopped. An empty argv (the image's entrypoint)
// runs until stopped too.
//
// On a stop, a shell or sleep ignores SIGTERM (PID 1 has no default
// handlers) and is killed (137) unless the script traps TERM (then it
// exits 0); any other program exits 143, as after SIGTERM's default
// action.
func behaviourOf(argv []string) Behaviour {
	if len(argv) > 0 && path.Base(argv[0]) == "busybox" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return Behaviour{Forever: true, TermExitCode: exitSIGTERM}
	}
	switch path.Base(argv[0]) {
	case "sh", "bash", "ash", "dash":
		if len(argv) >= 3 && argv[1] == "-c" {
			b := runScript(argv[2])
			b.IgnoresTERM = !strings.Contains(argv[2], "trap")
			return b
		}
		return Behaviour{Forever: true, IgnoresTERM: true} // an interactive shell waits for input
	case "sleep", "true", "false", "echo", "exit", "tail":
		b := runScript(joinArgv(argv))
		b.IgnoresTERM = true
		return b
	}
	return Behaviour{Forever: true, TermExitCode: exitSIGTERM}
}

// joinArgv quotes argv into one script line.
func joinArgv(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", "") + "'"
	}
	return strings.Join(quoted, " ")
}

// runScript interprets a tiny subset of sh; see behaviourOf.
func runScript(script string) Behaviour {
	var b Behaviour
	last := int32(0)
	for _, stmt := range splitStatements(script) {
		words := splitWords(stmt)
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "while", "until", "for", "do", "done", "tail":
			if words[0] != "tail" || contains(words, "-f") {
				return Behaviour{Output: b.Output, Files: b.Files, Forever: true}
			}
			last = 0
		case "exit":
			code := last
			if len(words) > 1 {
				n, err := strconv.Atoi(words[1])
				if err == nil {
					code = int32(n & 0xff)
				}
			}
			b.ExitCode = code
			return b
		case "sleep":
			if len(words) < 2 || words[1] == "infinity" {
				return Behaviour{Output: b.Output, Files: b.Files, Forever: true}
			}
			secs, err := strconv.ParseFloat(strings.TrimSuffix(words[1], "s"), 64)
			if err != nil {
				last = 1
				continue
			}
			b.Runs += time.Duration(secs * float64(time.Second))
			last = 0
		case "true", ":":
			last = 0
		case "false":
			last = 1
		case "echo":
			echo(&b, words[1:])
			last = 0
		default:
			last = 0
		}
	}
	b.ExitCode = last
	return b
}

// echo records `echo words [> file]`.
func echo(b *Behaviour, words []string) {
	for i, w := range words {
		if (w == ">" || w == ">>") && i+1 < len(words) {
			if b.Files == nil {
				b.Files = map[string]string{}
			}
			text := strings.Join(words[:i], " ") + "\n"
			if w == ">>" {
				text = b.Files[words[i+1]] + text
			}
			b.Files[words[i+1]] = text
			return
		}
	}
	b.Output = append(b.Output, strings.Join(words, " "))
}

// splitStatements splits on ; && || and newlines outside quotes.
func splitStatements(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	for i := 0; i < len(s); i++ {
		c := rune(s[i])
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			quote = c
			cur.WriteRune(c)
		case c == ';' || c == '\n':
			out = append(out, cur.String())
			cur.Reset()
		case (c == '&' || c == '|') && i+1 < len(s) && rune(s[i+1]) == c:
			out = append(out, cur.String())
			cur.Reset()
			i++
		default:
			cur.WriteRune(c)
		}
	}
	return append(out, cur.String())
}

// splitWords splits a statement into words, dropping quotes.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

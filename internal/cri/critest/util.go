package critest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// exitCode returns the exit code an ExecSync error carries, as
// internal/cri's ExitError and k8s.io/utils/exec's errors report it.
func exitCode(err error) (int, bool) {
	var e interface{ ExitStatus() int }
	if errors.As(err, &e) {
		return e.ExitStatus(), true
	}
	return 0, false
}

// logLine is one line of a container log in the CRI format:
// "<RFC3339Nano time> <stream> <P|F> <text>".
type logLine struct {
	time   time.Time
	stream string
	full   bool
	text   string
}

var criLogLine = regexp.MustCompile(`^(\S+) (stdout|stderr) (P|F) (.*)$`)

// readLog parses a CRI log file; a malformed line is an error.
func readLog(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logLine
	s := bufio.NewScanner(f)
	for s.Scan() {
		m := criLogLine.FindStringSubmatch(s.Text())
		if m == nil {
			return nil, fmt.Errorf("%s: line %q is not in the CRI log format", path, s.Text())
		}
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %v", path, s.Text(), err)
		}
		out = append(out, logLine{time: ts, stream: m[2], full: m[3] == "F", text: m[4]})
	}
	return out, s.Err()
}

// waitLog waits up to 10s until the log at path holds want (stream
// "text" lines, in order, among others) and returns its lines.
func waitLog(path string, want ...string) ([]logLine, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines, err := readLog(path)
		if err == nil && logHas(lines, want) {
			return lines, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, err
			}
			return lines, fmt.Errorf("%s holds %v, want %q (in order per stream)", path, lines, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logHas reports whether lines contain want ("stream text"), in order
// within each stream. Lines of different streams may interleave either
// way: stdout and stderr are separate pipes, copied independently.
func logHas(lines []logLine, want []string) bool {
	next := map[string][]string{} // stream -> texts still expected, in order
	for _, w := range want {
		stream, text, _ := strings.Cut(w, " ")
		next[stream] = append(next[stream], text)
	}
	for _, l := range lines {
		if q := next[l.stream]; len(q) > 0 && q[0] == l.text {
			next[l.stream] = q[1:]
		}
	}
	for _, q := range next {
		if len(q) > 0 {
			return false
		}
	}
	return true
}

// normalizeImage expands a reference the way docker and containerd do:
// "busybox:1.36" is "docker.io/library/busybox:1.36", a missing tag is
// "latest".
func normalizeImage(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		if !hasSlash {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		if !hasDigest {
			name += ":latest"
		}
	}
	if hasDigest {
		return name + "@" + digest
	}
	return name
}

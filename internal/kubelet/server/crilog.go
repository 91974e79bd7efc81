package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The CRI writes a container's output to its log file one record a line:
//
//	<RFC3339Nano time> <stdout|stderr> <tags> <content>
//
// where the first ':'-separated tag is F (the content ends a line) or P
// (a partial line the runtime split because it was long; the next records
// of the same stream continue it).

// logEntry is one record of a CRI log file.
type logEntry struct {
	Time    time.Time
	Stream  string
	Partial bool
	Content []byte // without the trailing newline; aliases the parsed line
}

// parseCRILogLine parses one record (with or without its newline).
func parseCRILogLine(line []byte) (logEntry, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return logEntry{}, fmt.Errorf("CRI log record %q: no stream", truncateForError(line))
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return logEntry{}, fmt.Errorf("CRI log record %q: bad time: %w", truncateForError(line), err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return logEntry{}, fmt.Errorf("CRI log record %q: bad stream", truncateForError(line))
	}
	tags, content, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		// "<time> stdout F" is an empty line.
		tags, content = rest, nil
	}
	first, _, _ := bytes.Cut(tags, []byte(":"))
	var partial bool
	switch string(first) {
	case "F":
	case "P":
		partial = true
	default:
		return logEntry{}, fmt.Errorf("CRI log record %q: bad tag %q", truncateForError(line), tags)
	}
	return logEntry{Time: t, Stream: string(stream), Partial: partial, Content: content}, nil
}

func truncateForError(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// logLine is one whole line of output: partial records joined.
type logLine struct {
	Time    time.Time // of its first record
	Stream  string
	Content []byte // without the newline; owned by the line
}

// lineAssembler joins partial records into lines, per stream, since a
// runtime may interleave a long stdout line with stderr records.
type lineAssembler struct {
	pending map[string]*logLine
}

// add takes a record and returns the line it completes, if any.
func (a *lineAssembler) add(e logEntry) (logLine, bool) {
	p := a.pending[e.Stream]
	if p == nil {
		p = &logLine{Time: e.Time, Stream: e.Stream}
	}
	p.Content = append(p.Content, e.Content...)
	if e.Partial {
		if a.pending == nil {
			a.pending = map[string]*logLine{}
		}
		a.pending[e.Stream] = p
		return logLine{}, false
	}
	delete(a.pending, e.Stream)
	return *p, true
}

// flush returns the unfinished lines (oldest first) and forgets them: the
// container stopped, or the log ends, in the middle of a line.
func (a *lineAssembler) flush() []logLine {
	var out []logLine
	for _, s := range []string{"stdout", "stderr"} {
		if p := a.pending[s]; p != nil {
			out = append(out, *p)
		}
	}
	if len(out) == 2 && out[1].Time.Before(out[0].Time) {
		out[0], out[1] = out[1], out[0]
	}
	a.pending = nil
	return out
}

// LogOptions select and format log output, as the kubelet's
// /containerLogs query parameters (and PodLogOptions) define them.
type LogOptions struct {
	Follow bool
	// TailLines: only the last n lines of the existing log; negative
	// means all of it.
	TailLines int64
	// Since drops lines written before it (zero: none dropped).
	Since time.Time
	// Timestamps prefixes each line with its time.
	Timestamps bool
	// LimitBytes stops the output after that many bytes (<= 0: no limit).
	LimitBytes int64
}

// timestampFormat is RFC 3339 with nanoseconds always nine digits, so
// prefixed lines stay aligned (as the kubelet prints them).
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// errLimitReached ends the output once LimitBytes are written.
var errLimitReached = errors.New("log byte limit reached")

// logEmitter writes lines to the client as the options ask.
type logEmitter struct {
	w          io.Writer
	since      time.Time
	timestamps bool
	remaining  int64 // bytes left; negative: no limit
	buf        []byte
}

func newLogEmitter(w io.Writer, opts LogOptions) *logEmitter {
	e := &logEmitter{w: w, since: opts.Since, timestamps: opts.Timestamps, remaining: -1}
	if opts.LimitBytes > 0 {
		e.remaining = opts.LimitBytes
	}
	return e
}

// emit writes one line; errLimitReached once the byte limit is used up.
func (e *logEmitter) emit(l logLine) error {
	if !e.since.IsZero() && l.Time.Before(e.since) {
		return nil
	}
	e.buf = e.buf[:0]
	if e.timestamps {
		e.buf = l.Time.UTC().AppendFormat(e.buf, timestampFormat)
		e.buf = append(e.buf, ' ')
	}
	e.buf = append(e.buf, l.Content...)
	e.buf = append(e.buf, '\n')
	out := e.buf
	limited := false
	if e.remaining >= 0 && int64(len(out)) >= e.remaining {
		out, limited = out[:e.remaining], true
	}
	if _, err := e.w.Write(out); err != nil {
		return err
	}
	if e.remaining >= 0 {
		e.remaining -= int64(len(out))
	}
	if limited {
		return errLimitReached
	}
	return nil
}

// flush pushes written lines to an HTTP client now (kubectl logs -f).
func (e *logEmitter) flush() {
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// tailRing keeps the last n lines seen.
type tailRing struct {
	n     int64
	lines []logLine
	next  int // where the next line goes once the ring is full
}

func (r *tailRing) add(l logLine) {
	if r.n == 0 {
		return
	}
	if int64(len(r.lines)) < r.n {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % len(r.lines)
}

// ordered returns the kept lines, oldest first.
func (r *tailRing) ordered() []logLine {
	return append(append([]logLine(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

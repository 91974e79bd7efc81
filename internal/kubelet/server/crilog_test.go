package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseCRILogLine(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		line    string
		want    logEntry
		wantErr bool
	}{
		{line: "2024-05-01T10:00:00.123456789Z stdout F hello world\n", want: logEntry{Time: ts, Stream: "stdout", Content: []byte("hello world")}},
		{line: "2024-05-01T10:00:00.123456789Z stderr P part", want: logEntry{Time: ts, Stream: "stderr", Partial: true, Content: []byte("part")}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F\n", want: logEntry{Time: ts, Stream: "stdout"}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F \n", want: logEntry{Time: ts, Stream: "stdout", Content: []byte{}}},
		{line: "2024-05-01T10:00:00.123456789Z stdout F:x  two  spaces\n", want: logEntry{Time: ts, Stream: "stdout", Content: []byte(" two  spaces")}},
		{line: "2024-05-01T12:00:00.123456789+02:00 stdout F zone\n", want: logEntry{Time: ts, Stream: "stdout", Content: []byte("zone")}},
		{line: "yesterday stdout F x\n", wantErr: true},
		{line: "2024-05-01T10:00:00Z stdin F x\n", wantErr: true},
		{line: "2024-05-01T10:00:00Z stdout X x\n", wantErr: true},
		{line: "2024-05-01T10:00:00Z\n", wantErr: true},
		{line: "", wantErr: true},
	} {
		got, err := parseCRILogLine([]byte(tc.line))
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: parsed, want an error", tc.line)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !got.Time.Equal(tc.want.Time) || got.Stream != tc.want.Stream || got.Partial != tc.want.Partial || !bytes.Equal(got.Content, tc.want.Content) {
			t.Errorf("%q: got %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// sample is a log with partial lines, interleaved streams and a record
// that is not CRI format.
const sample = `2024-05-01T10:00:01.000000000Z stdout F one
2024-05-01T10:00:02.000000000Z stdout P tw
2024-05-01T10:00:02.500000000Z stderr F err-a
2024-05-01T10:00:03.000000000Z stdout F o
not a cri record
2024-05-01T10:00:04.000000000Z stdout F three
2024-05-01T10:00:05.000000000Z stderr F err-b
`

func writeLog(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyLogString runs a non-following copy of content.
func copyLogString(t *testing.T, content string, opts LogOptions) string {
	t.Helper()
	p := writeLog(t, content)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	lc := &logCopy{file: f, path: p, opts: opts, running: func(context.Context) bool { return false }}
	if err := lc.run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestCopyLog(t *testing.T) {
	since := time.Date(2024, 5, 1, 10, 0, 3, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opts LogOptions
		want string
	}{
		{"all", LogOptions{TailLines: -1}, "one\nerr-a\ntwo\nthree\nerr-b\n"},
		{"tail 2", LogOptions{TailLines: 2}, "three\nerr-b\n"},
		{"tail 0", LogOptions{TailLines: 0}, ""},
		{"tail more than there is", LogOptions{TailLines: 100}, "one\nerr-a\ntwo\nthree\nerr-b\n"},
		{"since", LogOptions{TailLines: -1, Since: since}, "three\nerr-b\n"},
		{"tail then since", LogOptions{TailLines: 3, Since: since}, "three\nerr-b\n"},
		{"timestamps of a joined line are its first record's", LogOptions{TailLines: 3, Timestamps: true},
			"2024-05-01T10:00:02.000000000Z two\n2024-05-01T10:00:04.000000000Z three\n2024-05-01T10:00:05.000000000Z err-b\n"},
		{"limit bytes cuts mid-line", LogOptions{TailLines: -1, LimitBytes: 6}, "one\ner"},
		{"limit bytes at a line end", LogOptions{TailLines: -1, LimitBytes: 4}, "one\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := copyLogString(t, sample, tc.opts); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCopyLogUnfinishedLineAtEnd(t *testing.T) {
	log := "2024-05-01T10:00:01Z stdout F done\n2024-05-01T10:00:02Z stdout P half"
	// The last record has no newline yet: it is not a whole record, so
	// nothing of it shows.
	if got := copyLogString(t, log, LogOptions{TailLines: -1}); got != "done\n" {
		t.Errorf("got %q", got)
	}
	// A whole partial record at the end shows as a line.
	if got := copyLogString(t, log+"\n", LogOptions{TailLines: -1}); got != "done\nhalf\n" {
		t.Errorf("got %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a copy writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendLog(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// startFollow follows path in the background; the returned channel
// yields the copy's error when it ends.
func startFollow(t *testing.T, ctx context.Context, path string, opts LogOptions, running *atomic.Bool, out *syncBuffer) <-chan error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Follow = true
	lc := &logCopy{file: f, path: path, opts: opts, poll: 5 * time.Millisecond,
		running: func(context.Context) bool { return running.Load() }}
	done := make(chan error, 1)
	go func() { done <- lc.run(ctx, out) }()
	return done
}

func TestFollowEndsWhenContainerStops(t *testing.T) {
	p := writeLog(t, "2024-05-01T10:00:01Z stdout F a\n2024-05-01T10:00:02Z stdout F b\n2024-05-01T10:00:03Z stdout F c\n")
	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	done := startFollow(t, context.Background(), p, LogOptions{TailLines: 1}, &running, &out)
	waitFor(t, "the tail", func() bool { return out.String() == "c\n" })

	// A record arriving in two writes shows once it is whole; partial
	// records wait for their final one.
	appendLog(t, p, "2024-05-01T10:00:04Z stdout P d")
	appendLog(t, p, "1\n2024-05-01T10:00:05Z stdout F d2\n")
	waitFor(t, "the joined line", func() bool { return out.String() == "c\nd1d2\n" })

	appendLog(t, p, "2024-05-01T10:00:06Z stdout F last words\n")
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got := out.String(); got != "c\nd1d2\nlast words\n" {
		t.Errorf("got %q", got)
	}
}

func TestFollowEndsWithClient(t *testing.T) {
	p := writeLog(t, "2024-05-01T10:00:01Z stdout F a\n")
	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := startFollow(t, ctx, p, LogOptions{TailLines: -1}, &running, &out)
	waitFor(t, "the log", func() bool { return out.String() == "a\n" })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the client went away")
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	p := writeLog(t, "2024-05-01T10:00:01Z stdout F before\n")
	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startFollow(t, ctx, p, LogOptions{TailLines: -1}, &running, &out)
	waitFor(t, "the first line", func() bool { return out.String() == "before\n" })
	appendLog(t, p, "2024-05-01T10:00:02Z stdout F still old file\n")
	if err := os.Rename(p, p+".20240501-100003"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("2024-05-01T10:00:04Z stdout F new file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new file's line", func() bool { return strings.HasSuffix(out.String(), "new file\n") })
	if got := out.String(); got != "before\nstill old file\nnew file\n" {
		t.Errorf("got %q", got)
	}
	running.Store(false)
	<-done
}

func TestLimitBytesEndsFollow(t *testing.T) {
	p := writeLog(t, "2024-05-01T10:00:01Z stdout F 0123456789\n")
	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	done := startFollow(t, context.Background(), p, LogOptions{TailLines: -1, LimitBytes: 5}, &running, &out)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow went on past limitBytes")
	}
	if got := out.String(); got != "01234" {
		t.Errorf("got %q", got)
	}
}

func TestParseLogQuery(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	q := func(s string) map[string][]string {
		m := map[string][]string{}
		for _, kv := range strings.Split(s, "&") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = append(m[k], v)
		}
		return m
	}
	opts, prev, err := parseLogQuery(q("follow=true&previous=1&tailLines=3&timestamps=true&limitBytes=10&sinceSeconds=60"), now)
	if err != nil {
		t.Fatal(err)
	}
	want := LogOptions{Follow: true, TailLines: 3, Timestamps: true, LimitBytes: 10, Since: now.Add(-time.Minute)}
	if opts != want || !prev {
		t.Errorf("got %+v previous=%v, want %+v", opts, prev, want)
	}
	opts, _, err = parseLogQuery(q("sinceTime=2024-05-01T09:00:00Z"), now)
	if err != nil || !opts.Since.Equal(now.Add(-time.Hour)) || opts.TailLines != -1 {
		t.Errorf("sinceTime: %+v %v", opts, err)
	}
	for _, bad := range []string{"tailLines=-1", "tailLines=x", "limitBytes=0", "sinceSeconds=0",
		"sinceSeconds=1&sinceTime=2024-05-01T09:00:00Z", "sinceTime=yesterday", "follow=maybe"} {
		if _, _, err := parseLogQuery(q(bad), now); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if he, ok := err.(*httpError); !ok || he.code != 400 {
			t.Errorf("%s: %v, want a 400", bad, err)
		}
	}
}
